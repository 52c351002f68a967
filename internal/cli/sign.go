package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/report"
)

func init() { register(newSignCmd) }

// passwordEnv holds the password of an encrypted private key for
// unattended signing; without it aigis prompts on the terminal.
const passwordEnv = "AIGIS_KEY_PASSWORD"

func newSignCmd(env *Env) *cobra.Command {
	var rf reportFlags
	var mf modelFlags
	var sf serializationFlags
	var signature, privateKey, signingCert string
	var certChain []string
	cmd := &cobra.Command{
		Use:   "sign [flags] MODEL",
		Short: "Sign a model file or directory as an OpenSSF Model Signing (OMS) v1.0 bundle",
		Long: `Hash every file of MODEL (a file or a directory) and sign the manifest
with an ECDSA private key (P-256, P-384 or P-521), writing an OMS v1.0
Sigstore bundle that aigis and Python's model_signing 1.x verify.

With --signing-cert the bundle carries the certificate and --cert-chain
(the certificate method); otherwise it names the key by its hint (the key
method). An encrypted key's password comes from $` + passwordEnv + ` or, on a
terminal, a prompt.

Symbolic links, special files and an empty model are refused, never signed
in part. --method shards cuts large files in --shard-size pieces so that
one file is hashed on every core.`,
		Example: `  aigis sign --private-key key.pem ./bert           # writes ./bert/model.sig
  aigis sign --private-key key.pem model.gguf       # writes model.gguf.sig
  aigis sign --private-key key.pem --signing-cert cert.pem --cert-chain ca.pem ./bert
  aigis sign --private-key key.pem --method shards model.safetensors`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			model, err := modelArg(&rf, args)
			if err != nil {
				return err
			}
			if privateKey == "" {
				return withCode(ExitError, errors.New("--private-key is required"))
			}
			opts, err := sf.options(&mf, model)
			if err != nil {
				return err
			}
			signer, err := loadSigner(env, privateKey, signingCert, certChain)
			if err != nil {
				return withCode(ExitError, err)
			}
			if signature == "" {
				signature = defaultSignature(model)
			}
			prog := newHashProgress(env.Stderr, "sign", !mf.noProgress)
			opts.Progress, opts.OnTotal = prog.add, prog.setTotal
			var res *sign.Result
			err = prog.run(cmd, func(ctx context.Context) (err error) {
				if res, err = sign.Model(ctx, model, signer, sign.Options{Serialization: opts, Signature: signature}); err != nil {
					return fmt.Errorf("signing %s: %w", model, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return emit(env, &rf, res.Report())
		},
	}
	rf.fixed = &report.Gate{NoThreshold: true, AllowIncomplete: true} // signing either succeeds or errors
	addOutputFlags(cmd, &rf)
	cmd.Flags().StringVar(&signature, "signature", "", "where to write the bundle (default: model.sig inside a model directory, <file>.sig beside a single-file model); never over a file that is not a bundle")
	cmd.Flags().StringVar(&privateKey, "private-key", "", "PEM private key (EC P-256, P-384 or P-521; SEC 1, PKCS #8 or encrypted)")
	cmd.Flags().StringVar(&signingCert, "signing-cert", "", "PEM certificate of the key: sign with the certificate method")
	cmd.Flags().StringVar(&signingCert, "signing-certificate", "", "alias of --signing-cert (model_signing's name)")
	cmd.Flags().StringSliceVar(&certChain, "cert-chain", nil, "PEM certificates that lead from --signing-cert towards the verifier's root (repeatable)")
	cmd.Flags().StringSliceVar(&certChain, "certificate-chain", nil, "alias of --cert-chain (model_signing's name)")
	cmd.Flags().MarkHidden("signing-certificate")
	cmd.Flags().MarkHidden("certificate-chain")
	addModelFlags(cmd, &mf)
	addSerializationFlags(cmd, &sf)
	return cmd
}

func loadSigner(env *Env, keyPath, certPath string, chainPaths []string) (*sign.Signer, error) {
	data, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	var password []byte
	if sign.IsEncrypted(data) {
		if password, err = readPassword(env, keyPath); err != nil {
			return nil, err
		}
	}
	key, err := sign.ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("--private-key %s: %w", keyPath, err)
	}
	if certPath == "" {
		if len(chainPaths) > 0 {
			return nil, errors.New("--cert-chain needs --signing-cert")
		}
		return sign.WithKey(key)
	}
	leaf, err := readCertificates(certPath)
	if err != nil {
		return nil, fmt.Errorf("--signing-cert: %w", err)
	}
	var chain []*x509.Certificate
	for _, p := range chainPaths {
		cs, err := readCertificates(p)
		if err != nil {
			return nil, fmt.Errorf("--cert-chain: %w", err)
		}
		chain = append(chain, cs...)
	}
	s, err := sign.WithCertificate(key, leaf[0], chain)
	if err != nil {
		return nil, fmt.Errorf("--signing-cert %s: %w", certPath, err)
	}
	return s, nil
}

func readPassword(env *Env, keyPath string) ([]byte, error) {
	if p := env.Getenv(passwordEnv); p != "" {
		return []byte(p), nil
	}
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "Password for %s: ", keyPath)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("--private-key %s is encrypted: set %s or run on a terminal to be asked for the password", keyPath, passwordEnv)
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := oms.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}
