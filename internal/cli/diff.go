package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

func init() { register(newDiffCmd) }

func newDiffCmd(env *Env) *cobra.Command {
	var rf reportFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] BASE_MODEL MODEL",
		Short: "Compare two models tensor by tensor and flag targeted edits",
		Long: `Compare the weights of MODEL with those of BASE_MODEL (safetensors, GGUF,
.npy or torch zip checkpoints), tensor by tensor: which tensors changed,
how many elements, and by how much. Fine-tuning changes most tensors
smoothly; a backdoor edit or a hidden payload changes a few tensors (or a
sliver of one) sharply, and is reported as suspicious.

Both files are read in full; nothing is loaded with a framework.`,
		Example: `  aigis diff base/model.safetensors finetuned/model.safetensors
  aigis diff -o json base.gguf suspect.gguf`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.validate(); err != nil {
				return err
			}
			if err := checkTargets(args...); err != nil {
				return err
			}
			a := report.Artifact{Path: args[1], Format: "weights-diff"}
			cpu := analyzer.NewCPU(0)
			if err := diffInto(cmd.Context(), scan.New(scan.Options{CPU: cpu}), cpu, args[0], args[1], &a); err != nil {
				return withCode(ExitError, err)
			}
			return emit(env, &rf, &report.Report{Command: "diff", Artifacts: []report.Artifact{a}})
		},
	}
	addReportFlags(cmd, &rf, "medium")
	return cmd
}

// diffInto compares model with base and adds the findings to a. The
// engine lists both models' tensors (headers only); the comparison runs
// on the cores of the run's CPU budget.
func diffInto(ctx context.Context, engine *scan.Scanner, cpu *analyzer.CPU, base, model string, a *report.Artifact) error {
	_, raA, tsA, closeA, err := engine.Tensors(ctx, base)
	if err != nil {
		return err
	}
	defer closeA()
	_, raB, tsB, closeB, err := engine.Tensors(ctx, model)
	if err != nil {
		return err
	}
	defer closeB()
	d, err := weights.Compare(ctx, cpu, weights.Source{RA: raA, Tensors: tsA}, weights.Source{RA: raB, Tensors: tsB})
	if err != nil {
		return fmt.Errorf("comparing %s with %s: %w", model, base, err)
	}
	fs, props := d.Findings("base " + base)
	for _, f := range fs {
		a.Add(f)
	}
	if a.Properties == nil {
		a.Properties = map[string]string{}
	}
	for k, v := range props {
		a.Properties[k] = v
	}
	a.Properties["diff.base"] = base
	return nil
}

// checkBase makes sure --base is a model whose tensors the engine can
// list, before the scan starts.
func checkBase(ctx context.Context, engine *scan.Scanner, base string) error {
	_, _, _, closeBase, err := engine.Tensors(ctx, base)
	if err != nil {
		return fmt.Errorf("--base: %w", err)
	}
	return closeBase()
}

// compareBase adds a diff against base to a scanned file whose tensors
// the engine can list (scan --base); files without tensors are left
// alone.
func compareBase(ctx context.Context, engine *scan.Scanner, cpu *analyzer.CPU, base string, a *report.Artifact) {
	st, err := os.Lstat(a.Path)
	switch {
	case err != nil:
		return
	case st.Mode()&fs.ModeSymlink != 0 && a.Properties["link_resolves_to"] != "":
		// A link the scan analysed as the file it leads to, inside the root.
	case !st.Mode().IsRegular():
		return // directories, other links and devices: no file was read there
	}
	err = diffInto(ctx, engine, cpu, base, a.Path, a)
	switch {
	case errors.Is(err, analyzer.ErrNoTensors):
	case err != nil:
		a.Add(rules.New(rules.WeightsDiffFailed, "", err.Error()))
	}
}
