// Package image analyses a container image without unpacking it: an OCI
// image layout, a docker save tarball, an image in a registry, or an
// unpacked root filesystem (the host, --rootfs /).
//
// Each layer is read once, as a stream: its compressed and uncompressed
// digests are checked while it is read, its tar entries are checked
// (names that climb out of the root, links that lead out, special files,
// whiteout tricks, bombs), and each file is handled as it passes. Files
// the engine recognises (models, archives) are handed to the scan engine
// as they are read, random access where the layer lies uncompressed on
// disk; the small files the inventory needs (package databases,
// METADATA, configuration, scripts) are kept in memory; secrets and
// application-code checks run on the bytes as they pass. The layers are
// then squashed in memory, whiteouts and opaque directories applied, into
// an index of the final filesystem, over which osv-scalibr's extractors
// run (an fs.FS), the GPU stack is identified, and the configuration is
// checked.
//
// Nothing is extracted to disk, nothing read is executed, no link is
// followed on the host, and every bound is a finding (inconclusive or
// invalid), never a silent skip. A file that a later layer deletes is
// still analysed and reported with its layer: it ships with the image.
package image
