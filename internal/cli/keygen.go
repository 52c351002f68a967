package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
)

func init() { register(newKeygenCmd) }

func newKeygenCmd(env *Env) *cobra.Command {
	var prefix string
	var force, noPassword bool
	cmd := &cobra.Command{
		Use:   "keygen [flags]",
		Short: "Generate an ECDSA P-256 key pair for sign and verify",
		Long: `Write a new ECDSA P-256 key pair, as cosign generate-key-pair does:
PREFIX.key, the private key as encrypted PKCS #8 PEM (PBES2: PBKDF2-HMAC-
SHA256 and AES-256-CBC, readable by OpenSSL and Python's cryptography),
mode 0600; and PREFIX.pub, the public key PEM for verify --public-key and
model_signing.

The password comes from $` + passwordEnv + ` or, on a terminal, is asked for
twice. --no-password writes the private key unencrypted, for a CI secret
store only. Existing files are never replaced without --force; --force and
--no-password count only on the command line.`,
		Example: `  aigis keygen                                  # writes aigis.key and aigis.pub
  AIGIS_KEY_PASSWORD=... aigis keygen --output-key-prefix release
  aigis sign --private-key aigis.key ./bert
  aigis verify --public-key aigis.pub ./bert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if prefix == "" {
				return withCode(ExitError, errors.New("--output-key-prefix must not be empty"))
			}
			keyPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{keyPath, pubPath} {
					if _, err := os.Lstat(p); err == nil {
						return withCode(ExitError, fmt.Errorf("%s already exists: pass --force to replace it", p))
					}
				}
			}
			password, err := newPassword(env, noPassword)
			if err != nil {
				return withCode(ExitError, err)
			}
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			priv, err := sign.MarshalPrivateKey(key, password)
			clear(password)
			if err != nil {
				return err
			}
			pub, err := sign.MarshalPublicKey(&key.PublicKey)
			if err != nil {
				return err
			}
			if err := writeKeyFile(keyPath, priv, 0o600, force); err != nil {
				return withCode(ExitError, err)
			}
			if err := writeKeyFile(pubPath, pub, 0o644, force); err != nil {
				if !force {
					os.Remove(keyPath) // no private key without its public half
				}
				return withCode(ExitError, err)
			}
			hint, _ := oms.KeyHint(&key.PublicKey)
			fmt.Fprintf(env.Stderr, "Private key written to %s\nPublic key written to %s (key hint %s)\n", keyPath, pubPath, hint)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "aigis", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing key files")
	cmd.Flags().BoolVar(&noPassword, "no-password", false, "write the private key UNENCRYPTED (only for a CI secret store)")
	commandLineOnly(cmd, "force", "no-password")
	return cmd
}

// newPassword returns the password that encrypts a new private key, or
// nil with --no-password.
func newPassword(env *Env, noPassword bool) ([]byte, error) {
	fromEnv := env.Getenv(passwordEnv)
	if noPassword {
		if fromEnv != "" {
			return nil, fmt.Errorf("--no-password conflicts with $%s: unset one of them", passwordEnv)
		}
		fmt.Fprintln(env.Stderr, "aigis: WARNING: writing an UNENCRYPTED private key: anyone who can read the file can sign as you. Keep it only in a secret store, never in a repository or an image.")
		return nil, nil
	}
	if fromEnv != "" {
		return []byte(fromEnv), nil
	}
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("no password: set %s, run on a terminal to be asked for one, or pass --no-password for an unencrypted key", passwordEnv)
	}
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(env.Stderr, prompt)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		return p, err
	}
	p, err := ask("Enter password for private key: ")
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("empty password: pass --no-password for an unencrypted key")
	}
	again, err := ask("Enter password for private key again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the passwords do not match")
	}
	clear(again)
	return p, nil
}

// writeKeyFile creates path with mode. Without force it never replaces
// anything, not even a link (O_EXCL); with force it replaces path
// atomically, so an interrupted run leaves the old file or the new one.
func writeKeyFile(path string, data []byte, mode fs.FileMode, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: pass --force to replace it", path)
		}
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".aigis-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
