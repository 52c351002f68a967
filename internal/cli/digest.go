package cli

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/oms"
)

func init() { register(newDigestCmd) }

func newDigestCmd(env *Env) *cobra.Command {
	var mf modelFlags
	var sf serializationFlags
	cmd := &cobra.Command{
		Use:   "digest [flags] MODEL",
		Short: "Print a model's OMS root digest, as model_signing digest does",
		Long: `Hash MODEL (a file or a directory) as sign would and print the root
digest: SHA-256 over the resource digests in manifest order, the subject
digest a signature of the same model carries. With the default flags the
output is identical to Python's "model_signing digest".`,
		Example: `  aigis digest ./bert
  aigis digest --method shards --hash-algorithm blake3 model.safetensors`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			model, err := modelArg(nil, args)
			if err != nil {
				return err
			}
			opts, err := sf.options(&mf, model)
			if err != nil {
				return err
			}
			prog := newHashProgress(env.Stderr, "digest", !mf.noProgress)
			opts.Progress, opts.OnTotal = prog.add, prog.setTotal
			var m *oms.Manifest
			err = prog.run(cmd, func(ctx context.Context) (err error) {
				m, err = oms.Build(ctx, model, opts)
				return err
			})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(env.Stdout, "sha256:%s\n", hex.EncodeToString(m.RootDigest()))
			return err
		},
	}
	addModelFlags(cmd, &mf)
	addSerializationFlags(cmd, &sf)
	return cmd
}
