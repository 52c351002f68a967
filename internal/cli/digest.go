package cli

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
)

func init() { register(newDigestCmd) }

func newDigestCmd(env *Env) *cobra.Command {
	var mf modelFlags
	var sf serializationFlags
	var signature string
	cmd := &cobra.Command{
		Use:   "digest [flags] MODEL",
		Short: "Print a model's OMS root digest, the one its signature records",
		Long: `Hash MODEL (a file or a directory) as sign would and print the root
digest: SHA-256 over the resource digests in manifest order, the subject
digest a signature of the same model carries.

Like sign, digest leaves the bundle out of the model: model.sig inside a
model directory, or --signature when it lies inside the model. The digest
of a signed model is therefore the root digest its bundle records (verify
-o json reports it as root_digest). It is identical to Python's
"model_signing digest" given the same ignored paths (for a directory that
holds model.sig, add --ignore-paths model.sig there).`,
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
				if signature == "" {
					signature = defaultSignature(model)
				}
				m, err = sign.Manifest(ctx, model, sign.Options{Serialization: opts, Signature: signature})
				return err
			})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(env.Stdout, "sha256:%s\n", hex.EncodeToString(m.RootDigest()))
			return err
		},
	}
	cmd.Flags().StringVar(&signature, "signature", "", "the model's bundle, left out of the digest like sign leaves it out (default: model.sig inside a model directory)")
	addModelFlags(cmd, &mf)
	addSerializationFlags(cmd, &sf)
	return cmd
}
