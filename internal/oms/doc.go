// Package oms is the OpenSSF Model Signing (OMS) v1.0 format: how a model
// on disk becomes a manifest of resource digests, how that manifest is
// written as an in-toto statement inside a DSSE envelope inside a Sigstore
// bundle, and how those layers are parsed back.
//
// It is interoperable with Python's model_signing (sigstore/model-
// transparency), including its quirks: "." for a single-file model,
// path-component sort order, "<hash>-sharded-<size>" shard algorithm labels,
// shard_size written as a float, the v0.2.0 legacy predicate and PAE. Where
// Python and the written spec disagree, Naming picks the producer side; the
// parsers accept both.
//
// The package never verifies a signature and never trusts what it parses:
// every parser is bounded (bundle size, resource count, name length) and
// reports malformed input as a *FormatError, never a panic. Signing and
// verification flows live in packages sign and verify; the digest engine in
// package hashing.
package oms

import "fmt"

// FormatError says precisely what in a bundle or payload breaks the format.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return e.Msg }

func formatErr(format string, a ...any) error { return &FormatError{Msg: fmt.Sprintf(format, a...)} }

// Limits on parsed input. A real bundle is a few kilobytes per thousand
// files; these bounds only stop hostile input from exhausting memory.
const (
	// MaxBundleSize bounds a bundle file (and so its payload).
	MaxBundleSize = 128 << 20
	// MaxResources bounds the resources (files or shards) in one manifest.
	MaxResources = 1 << 20
	// MaxNameLength bounds one resource name, in bytes.
	MaxNameLength = 4096
	// MaxCertificates bounds an x509CertificateChain.
	MaxCertificates = 16
	// MaxSignatures bounds the DSSE signatures in one envelope.
	MaxSignatures = 16
)
