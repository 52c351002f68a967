package image

import "time"

// Limits bound everything an image can make aigis do. Each bound that is
// hit is a finding (image-limit-reached, inconclusive) on the artifact it
// stopped, never a silent skip. The zero value means DefaultLimits.
type Limits struct {
	// MaxLayers is the number of layers read.
	MaxLayers int
	// MaxManifest bounds an index, a manifest or docker's manifest.json.
	MaxManifest int64
	// MaxConfig bounds the image configuration.
	MaxConfig int64
	// MaxLayerExpanded bounds the uncompressed bytes of one layer, and
	// MaxRatio the ratio of uncompressed to compressed bytes once
	// RatioFloor bytes came out: a tar bomb stops here.
	MaxLayerExpanded int64
	MaxRatio         int64
	RatioFloor       int64
	// MaxEntries bounds the entries of one layer, MaxTotalEntries those
	// of all layers (the in-memory index grows with them).
	MaxEntries      int
	MaxTotalEntries int
	// MaxPath bounds an entry's name in bytes, MaxPathDepth in
	// components.
	MaxPath      int
	MaxPathDepth int
	// MaxKeptFile is the largest file kept in memory for the inventory
	// (a package database, METADATA, a configuration file), MaxKept all
	// of them together.
	MaxKeptFile int64
	MaxKept     int64
	// MaxModelMemory is how much of a model inside a compressed layer
	// the engine may buffer when its format needs random access (a zip's
	// central directory is at its end); nothing spills to disk.
	MaxModelMemory int64
	// MaxTextScan is the largest file whose bytes are searched for
	// secrets and application-code checks.
	MaxTextScan int64
	// Timeout bounds the whole analysis.
	Timeout time.Duration
}

// DefaultLimits are generous for real images (a CUDA image has 20 layers,
// 200,000 files and 10 GB) and tight for crafted ones.
func DefaultLimits() Limits {
	return Limits{
		MaxLayers:        256,
		MaxManifest:      4 << 20,
		MaxConfig:        8 << 20,
		MaxLayerExpanded: 64 << 30,
		MaxRatio:         1100,
		RatioFloor:       64 << 20,
		MaxEntries:       1_000_000,
		MaxTotalEntries:  4_000_000,
		MaxPath:          4096,
		MaxPathDepth:     256,
		MaxKeptFile:      64 << 20,
		MaxKept:          1 << 30,
		MaxModelMemory:   2 << 30,
		MaxTextScan:      1 << 20,
		Timeout:          30 * time.Minute,
	}
}

func (l Limits) withDefaults() Limits {
	if l == (Limits{}) {
		return DefaultLimits()
	}
	return l
}
