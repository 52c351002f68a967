package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry"
)

func newRegistryAuditCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the hash-chained audit log",
		Long: `The audit log records every push, gate result, approval, rejection,
revocation, pull, login and refusal, each row chained to the one before by
SHA-256, with checkpoints signed by the server's audit key.

With --data the verbs read a registry's data directory directly (the
server may be running); otherwise they ask the registry at --registry
(admins on every namespace).`,
	}
	var cf clientFlags
	var data, pubPath string
	verifyCmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Recompute the chain and the signed checkpoints: detect any edited, deleted or reordered row",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cf.output); err != nil {
				return err
			}
			var res *registry.AuditResult
			if data != "" {
				meta, _, err := openStores(data, false)
				if err != nil {
					return withCode(ExitError, err)
				}
				defer meta.Close()
				if pubPath == "" {
					pubPath = filepath.Join(data, "audit.pub")
				}
				b, err := os.ReadFile(pubPath)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("the audit public key: %w", err))
				}
				pub, err := oms.ParsePublicKey(b)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("%s: %w", pubPath, err))
				}
				if res, err = registry.VerifyAudit(cmd.Context(), meta, pub); err != nil {
					return withCode(ExitError, err)
				}
			} else {
				c, err := cf.client()
				if err != nil {
					return err
				}
				ctx, cancel := cf.context(cmd)
				defer cancel()
				res = &registry.AuditResult{}
				if err := c.API(ctx, "GET", "audit/verify", nil, res); err != nil {
					return remoteErr(err)
				}
			}
			if cf.output == "json" {
				if err := writeJSONOut(env.Stdout, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(env.Stdout, "%d rows, %d signed checkpoints, last hash %s\n", res.Rows, res.Checkpoints, res.LastHash)
				for _, p := range res.Problems {
					fmt.Fprintf(env.Stdout, "row %d: %s\n", p.Seq, p.Problem)
				}
				if res.OK() {
					fmt.Fprintln(env.Stdout, "the audit log is intact")
				}
			}
			if !res.OK() {
				return withCode(ExitFindings, fmt.Errorf("the audit log was tampered with: %d problems", len(res.Problems)))
			}
			return nil
		},
	}
	addClientFlags(verifyCmd, &cf)
	addDataFlag(verifyCmd, &data)
	verifyCmd.Flags().StringVar(&pubPath, "audit-key", "", "the audit public key (default <data>/audit.pub)")

	var cf2 clientFlags
	var data2, file string
	var from int64
	export := &cobra.Command{
		Use:   "export [flags]",
		Short: "Write the audit log as JSON Lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := env.Stdout
			var f *os.File
			if file != "" {
				var err error
				if f, err = os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*"); err != nil {
					return withCode(ExitError, err)
				}
				defer os.Remove(f.Name())
				w = f
			}
			if data2 != "" {
				meta, _, err := openStores(data2, false)
				if err != nil {
					return withCode(ExitError, err)
				}
				defer meta.Close()
				if err := registry.ExportAudit(cmd.Context(), meta, from, w); err != nil {
					return withCode(ExitError, err)
				}
			} else {
				c, err := cf2.client()
				if err != nil {
					return err
				}
				ctx, cancel := cf2.context(cmd)
				defer cancel()
				if err := c.API(ctx, "GET", fmt.Sprintf("audit?from=%d", from), nil, w); err != nil {
					return remoteErr(err)
				}
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return withCode(ExitError, err)
				}
				if err := os.Rename(f.Name(), file); err != nil {
					return withCode(ExitError, err)
				}
			}
			return nil
		},
	}
	addClientFlags(export, &cf2)
	addDataFlag(export, &data2)
	export.Flags().Int64Var(&from, "from", 0, "first row (sequence number)")
	export.Flags().StringVar(&file, "file", "", "write to this file instead of stdout")
	cmd.AddCommand(verifyCmd, export)
	return cmd
}

func newRegistryFsckCmd(env *Env) *cobra.Command {
	var data, output string
	var noHash bool
	cmd := &cobra.Command{
		Use:   "fsck [flags]",
		Short: "Check a registry's metadata and blob store against each other",
		Long: `Read the data directory and check that every recorded blob is present,
of its size and hashing to its digest (--no-hash skips the hashing), that
every manifest hashes to its digest and names only blobs and manifests its
repository holds, and that every tag names a manifest. Blob files no
record names (left by a crash between the write and the commit) are
listed as orphans: harmless, never served. The server may be running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			dir, err := dataDir(env, data)
			if err != nil {
				return err
			}
			meta, blobs, err := openStores(dir, false)
			if err != nil {
				return withCode(ExitError, err)
			}
			defer meta.Close()
			rep, err := registry.Fsck(cmd.Context(), meta, blobs, registry.FsckOptions{NoHash: noHash})
			if err != nil {
				return withCode(ExitError, err)
			}
			if output == "json" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(env.Stdout, string(b))
			} else {
				fmt.Fprintf(env.Stdout, "%d blobs, %d manifests, %d tags checked; %d orphan blob files\n", rep.Blobs, rep.Manifests, rep.Tags, len(rep.Orphans))
				if len(rep.Problems) > 0 {
					tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PROBLEM\tSUBJECT\tDETAIL")
					for _, p := range rep.Problems {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Kind, p.Subject, p.Detail)
					}
					tw.Flush()
				} else {
					fmt.Fprintln(env.Stdout, "the metadata and the blob store agree")
				}
			}
			if !rep.OK() {
				return withCode(ExitFindings, fmt.Errorf("fsck found %d problems", len(rep.Problems)))
			}
			return nil
		},
	}
	addDataFlag(cmd, &data)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table|json")
	cmd.Flags().BoolVar(&noHash, "no-hash", false, "check presence and sizes only, not digests")
	_ = strings.TrimSpace
	return cmd
}
