package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/osvdb"
)

func init() { register(newDBCmd) }

// addDBFlag registers --db; AIGIS_DB (or AIGIS_<VERB>_DB) overrides the
// default through the usual flag/env/config precedence.
func addDBFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "db", "", "vulnerability database file (default: <user cache dir>/aigis/osv.db; env AIGIS_DB)")
}

func addReplaceFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "replace", false, "import an export even if it holds fewer advisories than the data it replaces; rebuild an unreadable database")
}

func dbPath(p string) (string, error) {
	if p != "" {
		return p, nil
	}
	d, err := osvdb.DefaultPath()
	if err != nil {
		return "", withCode(ExitError, err)
	}
	return d, nil
}

func newDBCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the offline OSV vulnerability database used by deps",
		Long: `aigis deps matches dependencies against a local copy of the OSV database.
Import osv-scanner's offline exports (DIR/osv-scanner/<Ecosystem>/all.zip)
with 'db import', or download them with 'db update' where a network is
available. 'db status' shows what is loaded and how old it is.

An import builds a new database beside the old one and swaps it in only
when it is complete: a failed or interrupted import changes nothing. An
export with fewer advisories for its ecosystem than the database holds is
refused unless --replace is given.`,
	}
	cmd.AddCommand(newDBImportCmd(env), newDBUpdateCmd(env), newDBStatusCmd(env))
	return cmd
}

func newDBImportCmd(env *Env) *cobra.Command {
	var db string
	var replace bool
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|DIR...",
		Short: "Load OSV all.zip exports into the database",
		Example: `  aigis db import ~/.cache/osv-scanner          # osv-scanner's offline cache
  aigis db import ./osv/PyPI/all.zip
  aigis db import --db ./ci/osv.db ./mirror
  aigis db import --replace ./osv/PyPI/all.zip  # accept a smaller export`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return load(cmd, env, db, func(ctx context.Context, p string) (*osvdb.ImportResult, error) {
				return osvdb.ImportWith(ctx, p, osvdb.ImportOptions{Replace: replace}, args...)
			})
		},
	}
	addDBFlag(cmd, &db)
	addReplaceFlag(cmd, &replace)
	return cmd
}

func newDBUpdateCmd(env *Env) *cobra.Command {
	var db, baseURL string
	var replace bool
	var ecosystems []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "update [flags]",
		Short: "Download the OSV exports and import them (needs a network)",
		Long: `Download each ecosystem's all.zip export and import it. On a machine without
network access this fails with a clear error: copy the exports over and use
'aigis db import' instead.`,
		Example: `  aigis db update
  aigis db update --ecosystem PyPI,npm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return load(cmd, env, db, func(ctx context.Context, p string) (*osvdb.ImportResult, error) {
				return osvdb.Update(ctx, p, osvdb.UpdateOptions{
					BaseURL: baseURL, Ecosystems: ecosystems,
					Client: &http.Client{Timeout: timeout}, Replace: replace,
					Progress: func(eco string, n int64) {
						fmt.Fprintf(env.Stderr, "downloaded %s export (%s)\n", eco, humanBytes(n))
					},
				})
			})
		},
	}
	addDBFlag(cmd, &db)
	addReplaceFlag(cmd, &replace)
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", osvdb.DefaultEcosystems, "ecosystems to download")
	cmd.Flags().StringVar(&baseURL, "url", osvdb.DefaultUpdateURL, "base URL serving <Ecosystem>/all.zip")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "time allowed for each download")
	return cmd
}

func newDBStatusCmd(env *Env) *cobra.Command {
	var db, format string
	cmd := &cobra.Command{
		Use:   "status [flags]",
		Short: "Show what the database holds and how old it is",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := dbPath(db)
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return withCode(ExitError, fmt.Errorf("unknown output format %q (want table or json)", format))
			}
			d, err := osvdb.Open(p)
			if err != nil {
				return withCode(ExitError, err)
			}
			defer d.Close()
			st := d.Status()
			if format == "json" {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"path": p, "ecosystems": st})
			}
			fmt.Fprintf(env.Stdout, "database %s\n", p)
			writeStatus(env.Stdout, st, time.Now())
			return nil
		},
	}
	addDBFlag(cmd, &db)
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table|json")
	return cmd
}

// load runs an import or update into the database --db names, under
// Ctrl-C, and prints what it did.
func load(cmd *cobra.Command, env *Env, db string, run func(ctx context.Context, path string) (*osvdb.ImportResult, error)) error {
	p, err := dbPath(db)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	began := time.Now()
	res, err := run(ctx, p)
	printImport(env, p, res, time.Since(began))
	if err != nil {
		return withCode(ExitError, err)
	}
	return nil
}

func printImport(env *Env, path string, res *osvdb.ImportResult, took time.Duration) {
	if res == nil {
		return
	}
	for _, pr := range res.Problems {
		fmt.Fprintln(env.Stderr, "aigis: skipped", pr)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(env.Stderr, "aigis: warning:", w)
	}
	if len(res.Ecosystems) == 0 {
		return
	}
	fmt.Fprintf(env.Stdout, "imported into %s in %s\n", path, took.Round(time.Millisecond))
	writeStatus(env.Stdout, res.Ecosystems, time.Now())
}

// writeStatus shows both ages: when each export was imported and when its
// newest record was modified (the age that decides staleness).
func writeStatus(w io.Writer, st []osvdb.EcosystemStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS\tMALICIOUS\tPACKAGES\tWITHDRAWN\tINVALID\tIMPORTED\tNEWEST RECORD")
	for _, s := range st {
		newest := "unknown (no modified dates)"
		if d, ok := s.DataAge(now); ok {
			newest = fmt.Sprintf("%s (%s ago)", s.Newest, age(d))
			if d > staleAfter {
				newest += ", stale"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s ago\t%s\n", s.Ecosystem, s.Records, s.Malicious, s.Packages, s.Withdrawn, s.Invalid,
			age(now.Sub(s.Imported)), newest)
	}
	tw.Flush()
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
