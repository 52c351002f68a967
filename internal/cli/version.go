package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCmd) }

// Version overrides the module version when set at build time with
// -ldflags "-X github.com/aigis-dev/aigis/internal/cli.Version=v1.2.3".
var Version = ""

// buildInfo is what the binary knows about itself.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	CommitAt  string `json:"commitTime,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

var readBuild = sync.OnceValue(func() buildInfo {
	b := buildInfo{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.CommitAt = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if Version != "" {
		b.Version = Version
	}
	return b
})

// toolVersion is the version reports carry.
func toolVersion() string { return readBuild().Version }

// versionString is what --version prints.
func versionString() string {
	b := readBuild()
	s := b.Version
	if b.Commit != "" {
		s += " (" + shortCommit(b.Commit)
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + b.GoVersion
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func newVersionCmd(env *Env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := readBuild()
			switch format {
			case "json":
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			case "table", "text":
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "Version:\t%s\n", b.Version)
				if b.Commit != "" {
					mod := ""
					if b.Modified {
						mod = " (modified)"
					}
					fmt.Fprintf(tw, "Commit:\t%s%s\n", b.Commit, mod)
				}
				if b.CommitAt != "" {
					fmt.Fprintf(tw, "CommitTime:\t%s\n", b.CommitAt)
				}
				fmt.Fprintf(tw, "GoVersion:\t%s\n", b.GoVersion)
				fmt.Fprintf(tw, "Platform:\t%s\n", b.Platform)
				return tw.Flush()
			}
			return withCode(ExitError, fmt.Errorf("unknown output format %q (want table or json)", format))
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table|json")
	return cmd
}
