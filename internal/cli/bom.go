package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/bom/cyclonedx"
	"github.com/aigis-dev/aigis/internal/bom/spdx"
	"github.com/aigis-dev/aigis/internal/bom/table"
	"github.com/aigis-dev/aigis/report"
)

func init() { register(newBomCmd) }

var bomFormats = []string{"table", "cyclonedx-json", "spdx-json"}

var uuidRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
})

func newBomCmd(env *Env) *cobra.Command {
	var out, file, specVersion, timestamp, serial string
	var rf reportFlags
	var noHash, doScan, allowSymlinks bool
	var workers int
	cmd := &cobra.Command{
		Use:   "bom [flags] PATH...",
		Short: "Write an AI bill of materials: models, datasets, provenance, training, licences, dependencies",
		Long: `Write the AI bill of materials of a model repository, a model file, a
dataset directory or a whole project:

  - every model (format, architecture, parameter count, dtype, quantisation),
    its base models (base_model, PEFT base_model_name_or_path) and the
    datasets it was trained and evaluated on;
  - datasets with row counts, schema, licence and source datasets;
  - training configuration (training_args.json, trainer_state.json, the
    card's training hyperparameters, LoRA settings, generation_config.json);
  - licences mapped to SPDX, restrictive ones flagged;
  - the locked packages of Python, Go and npm manifests (osv-scalibr);
  - the SHA-256 of every file, hashed once, in parallel.

Output: CycloneDX 1.6/1.7 JSON, SPDX 3.0.1 JSON-LD, or a table with a
completeness score. Nothing is loaded, executed or fetched.`,
		Example: `  aigis bom ./my-model                          # table with completeness score
  aigis bom -o cyclonedx-json ./my-model > bom.cdx.json
  aigis bom -o cyclonedx-json --spec-version 1.7 .
  aigis bom -o spdx-json --scan ./models > bom.spdx.json
  SOURCE_DATE_EPOCH=0 aigis bom -o cyclonedx-json .   # reproducible bytes`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(bomFormats, out) {
				return withCode(ExitError, fmt.Errorf("unknown output format %q (want one of %s)", out, strings.Join(bomFormats, ", ")))
			}
			if !slices.Contains(cyclonedx.Versions(), specVersion) {
				return withCode(ExitError, fmt.Errorf("--spec-version %q: want one of %s", specVersion, strings.Join(cyclonedx.Versions(), ", ")))
			}
			gate, err := rf.gate()
			if err != nil {
				return err
			}
			if err := checkTargets(args...); err != nil {
				return err
			}
			ts, reproducible, err := bomTime(timestamp, env.Getenv("SOURCE_DATE_EPOCH"))
			if err != nil {
				return withCode(ExitError, err)
			}
			if serial != "" && !uuidRE().MatchString(serial) {
				return withCode(ExitError, fmt.Errorf("--serial %q is not a UUID", serial))
			}
			opt := bom.Options{NoHash: noHash, Workers: workers, Scan: doScan, AllowSymlinks: allowSymlinks}
			args = distinctTargets(args)
			// bom draws no progress line (it has no --no-progress flag).
			var doc *bom.Document
			err = newProgress(env.Stderr, false).run(cmd, func(ctx context.Context) (err error) {
				doc, err = bom.BuildAll(ctx, args, opt)
				return err
			})
			if err != nil {
				return err
			}
			render := func(w io.Writer, serial string) error {
				switch out {
				case "cyclonedx-json":
					return cyclonedx.Encode(w, doc, cyclonedx.Options{SpecVersion: specVersion, Timestamp: ts, Serial: serial, ToolVersion: toolVersion(), Reproducible: reproducible})
				case "spdx-json":
					return spdx.Encode(w, doc, spdx.Options{Timestamp: ts, Serial: serial, ToolVersion: toolVersion()})
				}
				return table.Encode(w, doc)
			}
			if serial == "" {
				serial, err = bomSerial(render, reproducible)
				if err != nil {
					return withCode(ExitError, err)
				}
			}
			var buf bytes.Buffer
			if err := render(&buf, serial); err != nil {
				return withCode(ExitError, fmt.Errorf("writing %s: %w", out, err))
			}
			w := env.Stdout
			if file != "" {
				f, err := os.Create(file)
				if err != nil {
					return withCode(ExitError, err)
				}
				defer f.Close()
				w = f
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return withCode(ExitError, err)
			}
			for _, wmsg := range doc.Warnings {
				env.warnf("%s", wmsg)
			}
			if doScan && scanFails(doc, gate) {
				return withCode(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: "+strings.Join(bomFormats, "|"))
	cmd.Flags().StringVar(&file, "file", "", "write the BOM to this file instead of stdout")
	cmd.Flags().StringVar(&specVersion, "spec-version", "1.6", "CycloneDX spec version: "+strings.Join(cyclonedx.Versions(), "|"))
	cmd.Flags().StringVar(&timestamp, "timestamp", "", "document timestamp (RFC 3339); default now, or SOURCE_DATE_EPOCH when set")
	cmd.Flags().StringVar(&serial, "serial", "", "document serial number (a UUID); default random, or derived from the content when the timestamp is pinned")
	cmd.Flags().BoolVar(&allowSymlinks, "allow-symlinks", false, "describe a link to a file as that file, wherever it leads (a Hugging Face snapshot's links into ../../blobs); links are left out otherwise")
	cmd.Flags().BoolVar(&noHash, "no-hash", false, "do not hash files (reads only headers, configs and cards)")
	cmd.Flags().BoolVar(&doScan, "scan", false, "scan every file with the scan engine and embed the findings")
	addGateFlags(cmd, &rf, "none")
	cmd.Flags().IntVar(&workers, "workers", runtime.NumCPU(), "files hashed (and scanned) in parallel")
	return cmd
}

// bomTime is the document timestamp: --timestamp, else SOURCE_DATE_EPOCH,
// else now. reproducible is true when it was pinned.
func bomTime(flag, epoch string) (time.Time, bool, error) {
	if flag != "" {
		t, err := time.Parse(time.RFC3339, flag)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("--timestamp %q: %v", flag, err)
		}
		return t.UTC(), true, nil
	}
	if epoch != "" {
		n, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", epoch)
		}
		return time.Unix(n, 0).UTC(), true, nil
	}
	return time.Now().UTC().Truncate(time.Second), false, nil
}

// bomSerial is a random UUID, or, for a reproducible document, a UUID
// derived from the document's bytes with a zero serial.
func bomSerial(render func(io.Writer, string) error, reproducible bool) (string, error) {
	var b [16]byte
	if reproducible {
		h := sha256.New()
		if err := render(h, "00000000-0000-0000-0000-000000000000"); err != nil {
			return "", err
		}
		copy(b[:], h.Sum(nil))
		b[6] = b[6]&0x0f | 0x80 // version 8: application-defined
	} else {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
	}
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// scanFails applies the gate to the scan verdicts a BOM embeds (--scan).
func scanFails(d *bom.Document, g report.Gate) bool {
	for _, c := range d.All() {
		for _, f := range c.Files {
			if f.Scan == nil {
				continue
			}
			if fail, _ := g.Fails(f.Scan); fail {
				return true
			}
		}
	}
	return false
}
