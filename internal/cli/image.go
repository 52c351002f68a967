package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/bom/cyclonedx"
	"github.com/aigis-dev/aigis/internal/image"
	"github.com/aigis-dev/aigis/internal/osvdb"
)

func init() { register(newImageCmd) }

func newImageCmd(env *Env) *cobra.Command {
	var rf reportFlags
	var db, platform, publicKey string
	var certChain []string
	var rootfs, skipVulns, insecure, requireSigned, noProgress bool
	var workers int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "image [flags] TARGET",
		Short: "Analyse a container image: packages, models, GPU stack, secrets and configuration",
		Long: `Analyse a container image without unpacking it. TARGET is an OCI image
layout directory, a docker save tarball, an image in a registry
(docker.io/library/python:3.12, localhost:5000/app@sha256:...; credentials
from the docker and podman configuration and credential helpers), or with
--rootfs an unpacked root filesystem (--rootfs / for this host). Prefixes
oci:, docker-archive: and registry: say which when a name is ambiguous.

Layers are read once, as streams, and squashed in memory (whiteouts and
opaque directories applied); nothing is written to disk and every bound of
the scan engine applies. The report lists, each with the layer it came from:

  - the image (digest, user) and its layers (digests checked, history);
  - every model file, scanned by the engine, deleted ones included (they
    ship with the image);
  - OS and language packages (dpkg, apk, Python, conda, npm, Go binaries),
    matched against the offline OSV database (aigis db import);
  - the GPU stack: CUDA, cuDNN, NCCL, TensorRT, driver libraries baked in
    (a misconfiguration), the NVIDIA Container Toolkit, checked against the
    embedded NVIDIA advisories;
  - secrets (Hugging Face, OpenAI, AWS, GCP, .netrc, .git-credentials),
    masked; root user, ADD of remote URLs, Jupyter without a token,
    world-writable model directories, trust_remote_code=True in the code,
    and with --require-signed-models models without a valid signature.

-o cyclonedx-json writes a CycloneDX BOM of the image instead of the report.`,
		Example: `  aigis image ./layout                      # an OCI image layout
  aigis image app.tar                       # docker save app > app.tar
  aigis image localhost:5000/app:1.0 -o json
  aigis image --rootfs / --skip-vulns        # this host
  aigis image -o cyclonedx-json app.tar > app.cdx.json
  aigis image --require-signed-models --public-key aigis.pub app.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bomOut := rf.output == "cyclonedx-json"
			if !bomOut {
				if err := rf.validate(); err != nil {
					return err
				}
			} else if _, err := rf.gate(); err != nil {
				return err
			}
			target := args[0]
			if rootfs {
				if err := checkTargets(target); err != nil {
					return err
				}
			}
			opt := image.Options{Workers: workers, Platform: platform, RootFS: rootfs, Remote: image.RemoteOptions{Insecure: insecure}}
			if timeout > 0 {
				opt.Limits = image.DefaultLimits()
				opt.Limits.Timeout = timeout
			}
			if requireSigned {
				v, err := chooseVerifier(publicKey, certChain, "", "", "")
				if err != nil {
					return withCode(ExitError, fmt.Errorf("--require-signed-models: %w", err))
				}
				opt.Signatures = &image.SignaturePolicy{Verifier: v}
			} else if publicKey != "" || len(certChain) > 0 {
				return withCode(ExitError, fmt.Errorf("--public-key and --certificate-chain are the signature policy's keys: add --require-signed-models"))
			}
			if !skipVulns {
				p, err := dbPath(db)
				if err != nil {
					return err
				}
				d, err := osvdb.Open(p)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("%w (or pass --skip-vulns to analyse the image without matching packages)", err))
				}
				defer d.Close()
				warnStale(env, d, time.Now())
				opt.DB = d
			}
			var res *image.Result
			err := newProgress(env.Stderr, !noProgress).run(cmd, func(ctx context.Context) (err error) {
				res, err = image.Analyze(ctx, target, opt)
				return err
			})
			if err != nil {
				return withCode(ExitError, err)
			}
			if bomOut {
				return writeImageBOM(env, &rf, res)
			}
			o, err := rf.open(env, "image")
			if err != nil {
				return err
			}
			for i := range res.Artifacts {
				if err := o.Artifact(&res.Artifacts[i]); err != nil {
					o.abort()
					return err
				}
			}
			return o.Close()
		},
	}
	addOutputFlags(cmd, &rf, "cyclonedx-json")
	addGateFlags(cmd, &rf, "medium")
	addDBFlag(cmd, &db)
	f := cmd.Flags()
	f.BoolVar(&rootfs, "rootfs", false, "TARGET is an unpacked root filesystem (/ for this host)")
	f.StringVar(&platform, "platform", "", "image of a multi-platform index to analyse (os/arch[/variant]; default linux and this machine's architecture)")
	f.BoolVar(&skipVulns, "skip-vulns", false, "do not match packages against the vulnerability database (no database needed)")
	f.BoolVar(&insecure, "insecure-registry", false, "allow plain HTTP to the registry (loopback registries use it without this flag)")
	f.BoolVar(&requireSigned, "require-signed-models", false, "signature policy: every model must be covered by an OMS signature that verifies with --public-key or --certificate-chain")
	f.StringVar(&publicKey, "public-key", "", "PEM public key of the signature policy")
	f.StringSliceVar(&certChain, "certificate-chain", nil, "PEM certificates to trust for the signature policy (repeatable)")
	f.IntVar(&workers, "workers", 0, "layers read in parallel (default: all cores)")
	f.DurationVar(&timeout, "timeout", 0, "time budget for the whole image (default 30m)")
	f.BoolVar(&noProgress, "no-progress", false, "never show progress on stderr")
	return cmd
}

// writeImageBOM writes the image's CycloneDX BOM; the gate applies to the
// artifacts of the analysis as for the report.
func writeImageBOM(env *Env, rf *reportFlags, res *image.Result) error {
	gate, err := rf.gate()
	if err != nil {
		return err
	}
	ts, reproducible, err := bomTime("", env.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return withCode(ExitError, err)
	}
	doc := res.BOM()
	render := func(w io.Writer, serial string) error {
		return cyclonedx.Encode(w, doc, cyclonedx.Options{Timestamp: ts, Serial: serial, ToolVersion: toolVersion(), Reproducible: reproducible})
	}
	serial, err := bomSerial(render, reproducible)
	if err != nil {
		return withCode(ExitError, err)
	}
	var buf bytes.Buffer
	if err := render(&buf, serial); err != nil {
		return withCode(ExitError, err)
	}
	w := env.Stdout
	if rf.file != "" {
		f, err := os.Create(rf.file)
		if err != nil {
			return withCode(ExitError, err)
		}
		defer f.Close()
		w = f
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return withCode(ExitError, err)
	}
	for i := range res.Artifacts {
		if fail, _ := gate.Fails(&res.Artifacts[i]); fail {
			return withCode(ExitFindings, nil)
		}
	}
	return nil
}
