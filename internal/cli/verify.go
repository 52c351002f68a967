package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/verify"
	"github.com/aigis-dev/aigis/report"
)

func init() { register(newVerifyCmd) }

func newVerifyCmd(env *Env) *cobra.Command {
	var rf reportFlags
	var mf modelFlags
	var signature, publicKey, identity, issuer, trustedRoot string
	var certChain []string
	var ignoreUnsigned bool
	cmd := &cobra.Command{
		Use:   "verify [flags] MODEL",
		Short: "Verify a model against its OpenSSF Model Signing (OMS) bundle",
		Long: `Check that MODEL's bundle was signed by the expected signer and that every
file of MODEL is exactly as signed: no file modified, missing or added.

Choose the signer with one of:
  --public-key KEY                    the key method
  --certificate-chain CA...           the certificate method (trusted roots
                                      or intermediates; the chain is checked
                                      at the current time)
  --identity ID --identity-provider URL --trusted-root trusted_root.json
                                      Sigstore keyless, verified offline

Bundles from every model_signing release (v0.2.0 onwards), the OMS spec
and aigis are accepted. The serialization (files or shards, hash, ignored
paths, symlink policy) is read from the signed bundle. The flags that
loosen the check (--ignore-paths, --ignore-unsigned-files,
--allow-symlinks, --ignore-git-paths) count only on the command line,
never from the environment or a config file.

Exit status: 0 verified, 1 verification failed (the report says what),
2 usage or internal error.`,
		Example: `  aigis verify --public-key key.pub ./bert
  aigis verify --certificate-chain ca.pem --signature bert.sig ./bert
  aigis verify --identity you@example.com --identity-provider https://github.com/login/oauth \
      --trusted-root trusted_root.json -o json ./bert`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			model, err := modelArg(&rf, args)
			if err != nil {
				return err
			}
			v, err := chooseVerifier(publicKey, certChain, identity, issuer, trustedRoot)
			if err != nil {
				return withCode(ExitError, err)
			}
			ignores, err := mf.resolveIgnores(model)
			if err != nil {
				return err
			}
			var bundle []byte
			if signature == "" {
				signature, bundle, err = findBundle(env, model)
			} else {
				bundle, err = readBundle(signature)
			}
			if err != nil {
				return withCode(ExitError, err)
			}
			prog := newHashProgress(env.Stderr, "verify", !mf.noProgress)
			opts := verify.Options{
				Signature:           signature,
				IgnorePaths:         ignores,
				IncludeGitPaths:     cmd.Flags().Changed("ignore-git-paths") && !mf.ignoreGitPaths,
				IgnoreGitPaths:      cmd.Flags().Changed("ignore-git-paths") && mf.ignoreGitPaths,
				AllowSymlinks:       mf.allowSymlinks,
				IgnoreUnsignedFiles: ignoreUnsigned,
				Workers:             mf.workers,
				Progress:            prog.add,
				OnTotal:             prog.setTotal,
			}
			if ignoreUnsigned {
				// Tolerated files are reported as inconclusive (never
				// verified); asking for them lets them pass the gate.
				rf.fixed = &report.Gate{Threshold: report.SeverityLow, AllowIncomplete: true}
			}
			var res *verify.Result
			err = prog.run(cmd, func(ctx context.Context) (err error) {
				res, err = verify.Model(ctx, model, bundle, v, opts)
				return err
			})
			if err != nil {
				return err
			}
			return emit(env, &rf, res.Report())
		},
	}
	// Any failed check fails the command; there is no threshold to lower.
	rf.fixed = &report.Gate{Threshold: report.SeverityLow}
	addOutputFlags(cmd, &rf)
	cmd.Flags().StringVar(&signature, "signature", "", "the bundle (default: model.sig inside a model directory, <file>.sig beside a single-file model)")
	cmd.Flags().StringVar(&publicKey, "public-key", "", "PEM public key: verify a key-method bundle")
	cmd.Flags().StringSliceVar(&certChain, "certificate-chain", nil, "PEM certificates to trust: verify a certificate-method bundle (repeatable)")
	cmd.Flags().StringSliceVar(&certChain, "cert-chain", nil, "alias of --certificate-chain")
	cmd.Flags().StringVar(&identity, "identity", "", "Sigstore: the expected certificate identity (email or URI)")
	cmd.Flags().StringVar(&issuer, "identity-provider", "", "Sigstore: the expected OIDC issuer URL")
	cmd.Flags().StringVar(&trustedRoot, "trusted-root", "", "Sigstore: trusted_root.json, or a client trust config that embeds one")
	cmd.Flags().StringVar(&trustedRoot, "trust-config", "", "alias of --trusted-root (model_signing's name)")
	cmd.Flags().BoolVar(&ignoreUnsigned, "ignore-unsigned-files", false, "tolerate files the manifest does not list: reported as info, never verified (every listed file must still match)")
	cmd.Flags().MarkHidden("cert-chain")
	cmd.Flags().MarkHidden("trust-config")
	addModelFlags(cmd, &mf)
	// Unset, the bundle decides whether git paths are verified.
	git := cmd.Flags().Lookup("ignore-git-paths")
	mf.ignoreGitPaths, git.DefValue = false, "false"
	git.Usage = "leave out .git, .gitattributes, .github and .gitignore at the model root (=false: verify them; unset: as the bundle's ignore_paths say)"
	commandLineOnly(cmd, "ignore-paths", "ignore-unsigned-files", "allow-symlinks", "ignore-git-paths")
	return cmd
}

func chooseVerifier(publicKey string, certChain []string, identity, issuer, trustedRoot string) (verify.Verifier, error) {
	sigstore := identity != "" || issuer != "" || trustedRoot != ""
	n := 0
	for _, set := range []bool{publicKey != "", len(certChain) > 0, sigstore} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("choose exactly one signer: --public-key, --certificate-chain, or --identity with --identity-provider and --trusted-root")
	}
	switch {
	case publicKey != "":
		data, err := os.ReadFile(publicKey)
		if err != nil {
			return nil, err
		}
		pub, err := oms.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("--public-key %s: %w", publicKey, err)
		}
		return verify.Key(pub)
	case len(certChain) > 0:
		var roots []*x509.Certificate
		for _, p := range certChain {
			cs, err := readCertificates(p)
			if err != nil {
				return nil, fmt.Errorf("--certificate-chain: %w", err)
			}
			roots = append(roots, cs...)
		}
		return verify.CertificateChain(roots)
	}
	var missing []string
	for flag, v := range map[string]string{"--identity": identity, "--identity-provider": issuer, "--trusted-root": trustedRoot} {
		if v == "" {
			missing = append(missing, flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("Sigstore verification also needs %s (aigis verifies offline: pass the trusted_root.json of your Sigstore instance)", strings.Join(missing, " and "))
	}
	data, err := os.ReadFile(trustedRoot)
	if err != nil {
		return nil, err
	}
	tr, err := verify.LoadTrustedRoot(data)
	if err != nil {
		return nil, fmt.Errorf("--trusted-root %s: %w", trustedRoot, err)
	}
	return verify.Sigstore(tr, identity, issuer)
}

// findBundle reads the default bundle of a model: model.sig inside a
// directory, <file>.sig beside a single file. For bundles written before
// <file>.sig became the default, a single file falls back to model.sig
// beside it, but only when <file>.sig is absent and that bundle's manifest
// names exactly this file: model.sig may be another model's signature.
func findBundle(env *Env, model string) (string, []byte, error) {
	sig := defaultSignature(model)
	data, err := readBundle(sig)
	if st, serr := os.Stat(model); serr != nil || st.IsDir() || !errors.Is(err, fs.ErrNotExist) {
		return sig, data, err
	}
	legacy := filepath.Join(filepath.Dir(model), "model.sig")
	old, lerr := readBundle(legacy)
	if errors.Is(lerr, fs.ErrNotExist) {
		return sig, nil, err
	}
	if lerr != nil {
		return sig, nil, fmt.Errorf("%w (and the older default %s: %v)", err, legacy, lerr)
	}
	base := filepath.Base(model)
	switch signed := verify.SignedSingleFile(old); signed {
	case base:
		env.warnf("%s is absent; verifying with %s, which signs %s (the default before <file>.sig; re-sign or pass --signature)", sig, legacy, base)
		return legacy, old, nil
	case "":
		return sig, nil, fmt.Errorf("%w (%s beside it does not sign the single file %s; pass --signature to choose a bundle)", err, legacy, base)
	default:
		return sig, nil, fmt.Errorf("%w (%s beside it signs %s, not %s; pass --signature to choose a bundle)", err, legacy, signed, base)
	}
}

// readBundle reads at most oms.MaxBundleSize+1 bytes, so an oversized or
// endless file is refused by the parser instead of filling memory.
func readBundle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--signature: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("--signature %s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, oms.MaxBundleSize+1))
}
