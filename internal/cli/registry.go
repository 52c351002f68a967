package cli

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry"
	"github.com/aigis-dev/aigis/internal/sign"
)

func init() { register(newRegistryCmd) }

func newRegistryCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "An approved-model registry (OCI Distribution API): serve, push, pull, approve",
		Long: `aigis registry serves models over the OCI Distribution API v1.1 (oras,
KitOps kit, modctl and crane push to it) and serves only versions that
passed the gates and were approved by someone other than the pusher.

The client verbs talk to a registry at --registry (env AIGIS_REGISTRY)
with a token (--token, env AIGIS_TOKEN). fsck and audit also read a data
directory directly (--data).

Exit codes: 0 done; 1 refused or failed: a pull denied or not verified,
fsck or audit verify found problems; 2 usage, connection or server error.`,
		Example: `  aigis registry serve                                # prints a one-time admin token
  export AIGIS_TOKEN=aigis_...
  aigis registry push ./bert models/bert:v1
  aigis registry ls
  aigis registry approve models/bert:v1 --key approver.key
  aigis registry pull models/bert:v1 ./bert-v1 --key signer.pub`,
	}
	cmd.AddCommand(newRegistryServeCmd(env), newRegistryPushCmd(env), newRegistryPullCmd(env), newRegistryLsCmd(env),
		newRegistryShowCmd(env), newRegistryApproveCmd(env), newRegistryDecideCmd(env, "reject"), newRegistryDecideCmd(env, "revoke"),
		newRegistryUserCmd(env), newRegistryTokenCmd(env), newRegistryRoleCmd(env), newRegistryAuditCmd(env), newRegistryFsckCmd(env))
	return cmd
}

// clientFlags are the connection flags of the client verbs.
type clientFlags struct {
	registry, token, output string
	timeout                 time.Duration
}

func addClientFlags(cmd *cobra.Command, cf *clientFlags) {
	f := cmd.Flags()
	f.StringVar(&cf.registry, "registry", "http://127.0.0.1:5000", "registry URL (env AIGIS_REGISTRY)")
	f.StringVar(&cf.token, "token", "", "token secret (env AIGIS_TOKEN)")
	f.StringVarP(&cf.output, "output", "o", "table", "output format: table|json")
	f.DurationVar(&cf.timeout, "timeout", 0, "give up after this long (0: no limit)")
}

func (cf *clientFlags) client() (*registry.Client, error) {
	if err := checkFormat(cf.output); err != nil {
		return nil, err
	}
	u, err := url.Parse(cf.registry)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, withCode(ExitError, fmt.Errorf("--registry %q: want http(s)://host[:port]", cf.registry))
	}
	if cf.token == "" {
		return nil, withCode(ExitError, errors.New("no token: pass --token or set AIGIS_TOKEN (aigis registry token create)"))
	}
	return &registry.Client{Base: strings.TrimSuffix(cf.registry, "/"), Token: cf.token}, nil
}

func (cf *clientFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	if cf.timeout > 0 {
		return context.WithTimeout(cmd.Context(), cf.timeout)
	}
	return context.WithCancel(cmd.Context())
}

func checkFormat(f string) error {
	if f != "table" && f != "json" {
		return withCode(ExitError, fmt.Errorf("unknown output format %q (want table or json)", f))
	}
	return nil
}

// remoteErr maps a client error to an exit code: a refusal by the
// registry is 1, anything else (connection, server) 2.
func remoteErr(err error) error {
	var e *registry.Error
	if errors.As(err, &e) && (e.Status == 401 || e.Status == 403 || e.Status == 404 || e.Status == 409 || e.Status == 429) {
		return withCode(ExitFindings, err)
	}
	return withCode(ExitError, err)
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return d[:len(d)-len(hex)] + hex[:12]
	}
	return d
}

func newRegistryPushCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "push [flags] DIR REPOSITORY[:TAG]",
		Short: "Push a model directory as a ModelPack artifact (it lands in quarantine)",
		Long: `Push every regular file of DIR as one raw ModelPack layer (the file's path in
org.cncf.model.filepath), with a ModelPack config, to REPOSITORY:TAG
(default tag latest). A model.sig at DIR's root (an OMS bundle from aigis
sign) is attached as a referrer for the gates and for pull to verify.
Links and special files are refused. The version waits in quarantine until
the gates pass and someone approves it.`,
		Example: `  aigis sign --private-key signer.key ./bert
  aigis registry push ./bert models/bert:v1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := checkTargets(args[0]); err != nil {
				return err
			}
			repo, tag, err := registry.ParseRef(args[1])
			if err != nil || strings.Contains(tag, ":") {
				return withCode(ExitError, fmt.Errorf("%s: want REPOSITORY[:TAG]", args[1]))
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			res, err := registry.PushDir(ctx, c, args[0], repo, tag)
			if err != nil {
				return remoteErr(err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, res)
			}
			fmt.Fprintf(env.Stdout, "pushed %s:%s@%s (%d files, %s)\n", repo, tag, res.Digest, len(res.Files), humanBytes(res.Size))
			if res.Signature != "" {
				fmt.Fprintf(env.Stdout, "attached %s as %s\n", registry.SignatureFile, res.Signature)
			}
			fmt.Fprintln(env.Stdout, "state: pending (quarantined until the gates pass and someone approves it)")
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	return cmd
}

func newRegistryPullCmd(env *Env) *cobra.Command {
	var cf clientFlags
	var keyPath, approverKey string
	var requireSig bool
	cmd := &cobra.Command{
		Use:   "pull [flags] REPOSITORY[:TAG|@DIGEST] DIR",
		Short: "Pull an approved model into a new directory, verifying every digest and the signature",
		Long: `Pull a model artifact into DIR, which must not exist. Every file is re-hashed
as it is written and checked against the manifest, the manifest against
its digest, and the OMS signature attached to the version against --key;
the files are written beside DIR and renamed into place only when all of
it holds, so a failed pull leaves nothing. With --approver-key the
version's signed approval is verified too, offline.`,
		Example: `  aigis registry pull models/bert:v1 ./bert --key signer.pub
  aigis registry pull models/bert@sha256:... ./bert --key signer.pub --approver-key approver.pub`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			repo, ref, err := registry.ParseRef(args[0])
			if err != nil {
				return withCode(ExitError, err)
			}
			var o registry.PullOptions
			o.RequireSignature = requireSig
			if keyPath != "" {
				if o.Key, err = readPublicKey(keyPath); err != nil {
					return withCode(ExitError, fmt.Errorf("--key: %w", err))
				}
			}
			if approverKey != "" {
				if o.ApproverKey, err = readPublicKey(approverKey); err != nil {
					return withCode(ExitError, fmt.Errorf("--approver-key: %w", err))
				}
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			res, err := registry.PullDir(ctx, c, repo, ref, args[1], o)
			if err != nil {
				var e *registry.Error
				if errors.As(err, &e) {
					return remoteErr(err)
				}
				return withCode(ExitFindings, err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, res)
			}
			fmt.Fprintf(env.Stdout, "pulled %s@%s into %s (%d files, %s, every digest verified)\n", repo, res.Digest, res.Dir, len(res.Files), humanBytes(res.Size))
			fmt.Fprintf(env.Stdout, "signature: %s\n", res.Signature)
			if res.Approval != "" {
				fmt.Fprintf(env.Stdout, "approval: %s\n", res.Approval)
			}
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&keyPath, "key", "", "public key (PEM) the model's OMS signature must verify with")
	cmd.Flags().BoolVar(&requireSig, "require-signature", false, "fail when no OMS signature is attached")
	cmd.Flags().StringVar(&approverKey, "approver-key", "", "public key (PEM) the version's approval must verify with")
	return cmd
}

func readPublicKey(p string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return oms.ParsePublicKey(b)
}

func newRegistryLsCmd(env *Env) *cobra.Command {
	var cf clientFlags
	var states []string
	var all bool
	cmd := &cobra.Command{
		Use:   "ls [flags] [NAMESPACE|REPOSITORY]",
		Short: "List versions with their state and model metadata",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(args) == 1 {
				if strings.Contains(args[0], "/") {
					q.Set("repo", args[0])
				} else {
					q.Set("namespace", args[0])
				}
			}
			for _, s := range states {
				q.Add("state", s)
			}
			if all {
				q.Set("all", "true")
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			var vs []registry.Version
			if err := c.API(ctx, "GET", "versions?"+q.Encode(), nil, &vs); err != nil {
				return remoteErr(err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, vs)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAGS\tDIGEST\tSTATE\tKIND\tMODEL\tFORMAT\tSIZE\tPUSHER\tPUSHED")
			for _, v := range vs {
				kind, model, format, size := "", "", "", ""
				if v.Model != nil {
					kind, format, size = v.Model.Kind, v.Model.Format, humanBytes(v.Model.Size)
					model = strings.TrimSuffix(v.Model.Name+" "+v.Model.Version, " ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Repository, strings.Join(v.Tags, ","), shortDigest(v.Digest),
					v.State, kind, model, format, size, v.Pusher, v.Pushed.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringSliceVar(&states, "state", nil, "only versions in these states: pending, approved, rejected, revoked")
	cmd.Flags().BoolVar(&all, "all", false, "list referrers (signatures, approvals, BOMs) too")
	return cmd
}

func newRegistryShowCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "show [flags] REPOSITORY[:TAG|@DIGEST]",
		Short: "Show a version: state, reason, gate result, model metadata, referrers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			var v registry.Version
			if err := c.API(ctx, "GET", "version?ref="+url.QueryEscape(args[0]), nil, &v); err != nil {
				return remoteErr(err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, v)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s:\t%s\n", k, v)
				}
			}
			row("repository", v.Repository)
			row("digest", v.Digest)
			row("tags", strings.Join(v.Tags, ", "))
			row("state", v.State)
			row("reason", v.Reason)
			row("pull", map[bool]string{true: "allowed", false: "denied: " + v.Denial}[v.Denial == ""])
			row("pusher", v.Pusher)
			row("pushed", v.Pushed.Format(time.RFC3339))
			row("decided by", v.StateBy)
			if v.Expires != nil {
				row("approval expires", v.Expires.Format(time.RFC3339))
			}
			row("gate result", v.GateDigest)
			if v.Model != nil {
				m := v.Model
				row("kind", m.Kind)
				row("model", strings.TrimSpace(m.Name+" "+m.Version))
				row("architecture", m.Architecture)
				row("format", m.Format)
				row("parameters", m.ParamSize)
				row("licences", strings.Join(m.Licenses, ", "))
				row("size", humanBytes(m.Size))
				for _, f := range m.Files {
					row("  file", fmt.Sprintf("%s  %s  %s", f.Path, humanBytes(f.Size), shortDigest(f.Digest)))
				}
			}
			for _, r := range v.Referrers {
				row("referrer", fmt.Sprintf("%s  %s  %s", r.ArtifactType, shortDigest(r.Digest), r.State))
			}
			tw.Flush()
			if len(v.Gate) > 0 {
				fmt.Fprintf(env.Stdout, "gate: %s\n", strings.TrimSpace(string(v.Gate)))
			}
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	return cmd
}

func newRegistryApproveCmd(env *Env) *cobra.Command {
	var cf clientFlags
	var keyPath, comment string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "approve [flags] REPOSITORY[:TAG|@DIGEST] --key KEY",
		Short: "Approve a version that passed the gates: sign an in-toto approval with your key",
		Long: `Sign an approval of the version (an in-toto statement over its manifest
digest, naming you, the gate result you saw and an expiry) in a DSSE
envelope with your private key, and send it. The registry checks it
against the public key registered for you (aigis registry user key), that
you hold the approver role and that you did not push the version; it then
serves the version and stores the approval as a referrer anyone can
verify offline.`,
		Example: `  aigis registry approve models/bert:v1 --key approver.key --ttl 2160h`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if keyPath == "" {
				return withCode(ExitError, errors.New("--key is required: approvals are signed"))
			}
			if ttl <= 0 || ttl > registry.MaxApprovalTTL {
				return withCode(ExitError, fmt.Errorf("--ttl must lie between 0 and %s", registry.MaxApprovalTTL))
			}
			data, err := os.ReadFile(keyPath)
			if err != nil {
				return withCode(ExitError, err)
			}
			var password []byte
			if sign.IsEncrypted(data) {
				if password, err = readPassword(env, keyPath); err != nil {
					return withCode(ExitError, err)
				}
			}
			key, err := sign.ParsePrivateKey(data, password)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("--key %s: %w", keyPath, err))
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			var who struct {
				User string `json:"user"`
			}
			if err := c.API(ctx, "GET", "whoami", nil, &who); err != nil {
				return remoteErr(err)
			}
			var v registry.Version
			if err := c.API(ctx, "GET", "version?ref="+url.QueryEscape(args[0]), nil, &v); err != nil {
				return remoteErr(err)
			}
			if v.GateDigest == "" {
				return withCode(ExitFindings, fmt.Errorf("%s: the gate has not finished (state %s)", args[0], v.State))
			}
			var gr struct {
				Version string `json:"version"`
			}
			json.Unmarshal(v.Gate, &gr)
			st, err := registry.NewApproval(v.Repository, v.Digest, who.User, registry.ApprovalGate{Version: gr.Version, Result: v.GateDigest}, ttl, comment)
			if err != nil {
				return withCode(ExitError, err)
			}
			envl, err := registry.SignApproval(key, st)
			if err != nil {
				return withCode(ExitError, err)
			}
			var out map[string]any
			if err := c.API(ctx, "POST", "approve", registry.ApproveRequest{Ref: v.Repository + "@" + v.Digest, Envelope: envl}, &out); err != nil {
				return remoteErr(err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, out)
			}
			fmt.Fprintf(env.Stdout, "approved %s@%s until %s (approval %v)\n", v.Repository, v.Digest, st.Predicate.Expires.Format(time.RFC3339), out["approval"])
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&keyPath, "key", "", "your private key (PEM, ECDSA; encrypted keys read $"+passwordEnv+" or prompt)")
	cmd.Flags().DurationVar(&ttl, "ttl", 90*24*time.Hour, "how long the approval lasts")
	cmd.Flags().StringVar(&comment, "comment", "", "a note recorded in the signed approval")
	return cmd
}

func newRegistryDecideCmd(env *Env, action string) *cobra.Command {
	var cf clientFlags
	var reason string
	short := map[string]string{
		"reject": "Reject a pending version (it is never served)",
		"revoke": "Revoke an approved version: the next pull is refused",
	}[action]
	cmd := &cobra.Command{
		Use:   action + " [flags] REPOSITORY[:TAG|@DIGEST] --reason TEXT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return withCode(ExitError, errors.New("--reason is required"))
			}
			ctx, cancel := cf.context(cmd)
			defer cancel()
			var out map[string]any
			if err := c.API(ctx, "POST", action, registry.DecideRequest{Ref: args[0], Reason: reason}, &out); err != nil {
				return remoteErr(err)
			}
			if cf.output == "json" {
				return writeJSONOut(env.Stdout, out)
			}
			fmt.Fprintf(env.Stdout, "%sd %s (%v)\n", strings.TrimSuffix(action, "e"), args[0], out["digest"])
			return nil
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the state and the audit log)")
	return cmd
}

// simple runs one API call and prints its answer.
func simple(env *Env, cmd *cobra.Command, cf *clientFlags, method, path string, in any, table func(w io.Writer, out json.RawMessage) error) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := cf.context(cmd)
	defer cancel()
	var out json.RawMessage
	if err := c.API(ctx, method, path, in, &out); err != nil {
		return remoteErr(err)
	}
	if cf.output == "json" || table == nil {
		_, err := fmt.Fprintln(env.Stdout, strings.TrimSpace(string(out)))
		return err
	}
	return table(env.Stdout, out)
}

func readSecretStdin(env *Env) (string, error) {
	b, err := io.ReadAll(io.LimitReader(env.Stdin, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func newRegistryUserCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users and robot accounts"}
	var cf clientFlags
	var robot, pwStdin bool
	var keyPath string
	add := &cobra.Command{
		Use:   "add [flags] NAME",
		Short: "Create a user (--password-stdin) or a robot account (--robot; tokens only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := registry.UserRequest{Name: args[0], Robot: robot}
			if pwStdin {
				pw, err := readSecretStdin(env)
				if err != nil {
					return withCode(ExitError, err)
				}
				req.Password = pw
			}
			if keyPath != "" {
				b, err := os.ReadFile(keyPath)
				if err != nil {
					return withCode(ExitError, err)
				}
				req.Key = string(b)
			}
			return simple(env, cmd, &cf, "POST", "users", req, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "user %s saved\n", args[0])
				return err
			})
		},
	}
	addClientFlags(add, &cf)
	add.Flags().BoolVar(&robot, "robot", false, "a robot account: no password, tokens only")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin")
	add.Flags().StringVar(&keyPath, "key", "", "public key (PEM) that signs this user's approvals")

	var cf2 clientFlags
	var name string
	key := &cobra.Command{
		Use:   "key [flags] PUBLIC_KEY",
		Short: "Register the public key that signs your approvals (--name: another user's, admins only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(ExitError, err)
			}
			if _, err := oms.ParsePublicKey(b); err != nil {
				return withCode(ExitError, fmt.Errorf("%s: %w", args[0], err))
			}
			c, err := cf2.client()
			if err != nil {
				return err
			}
			n := name
			if n == "" {
				var who struct {
					User string `json:"user"`
				}
				if err := c.API(cmd.Context(), "GET", "whoami", nil, &who); err != nil {
					return remoteErr(err)
				}
				n = who.User
			}
			return simple(env, cmd, &cf2, "POST", "users", registry.UserRequest{Name: n, Key: string(b)}, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "approval key of %s registered\n", n)
				return err
			})
		},
	}
	addClientFlags(key, &cf2)
	key.Flags().StringVar(&name, "name", "", "the user (default: you)")

	var cf3 clientFlags
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List users and their roles (admins on every namespace)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf3, "GET", "users", nil, func(w io.Writer, out json.RawMessage) error {
				var us []registry.UserInfo
				json.Unmarshal(out, &us)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USER\tKIND\tPASSWORD\tAPPROVAL KEY\tDISABLED\tROLES")
				for _, u := range us {
					kind := map[bool]string{true: "robot", false: "user"}[u.Robot]
					var roles []string
					for _, r := range u.Roles {
						roles = append(roles, r.Namespace+":"+r.Role)
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%v\t%s\n", u.Name, kind, u.Password, u.Key, u.Disabled, strings.Join(roles, ","))
				}
				return tw.Flush()
			})
		},
	}
	addClientFlags(ls, &cf3)

	var cf4 clientFlags
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a user with their tokens and roles",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf4, "DELETE", "users?name="+url.QueryEscape(args[0]), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "user %s deleted\n", args[0])
				return err
			})
		},
	}
	addClientFlags(rm, &cf4)
	cmd.AddCommand(add, key, ls, rm)
	return cmd
}

func newRegistryTokenCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke bearer tokens (stored hashed, expiring)"}
	var cf clientFlags
	var user, ttl, desc string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token for you (or --user, admins only); the secret is shown once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf, "POST", "tokens", registry.TokenRequest{User: user, TTL: ttl, Description: desc}, func(w io.Writer, out json.RawMessage) error {
				var t map[string]any
				json.Unmarshal(out, &t)
				_, err := fmt.Fprintf(w, "token for %v (id %v, expires %v), shown once:\n%v\n", t["user"], t["id"], t["expires"], t["token"])
				return err
			})
		},
	}
	addClientFlags(create, &cf)
	create.Flags().StringVar(&user, "user", "", "the token's user (default: you)")
	create.Flags().StringVar(&ttl, "ttl", "24h", "life of the token (at most a year)")
	create.Flags().StringVar(&desc, "description", "", "what the token is for")

	var cf2 clientFlags
	var user2 string
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List tokens (ids, never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf2, "GET", "tokens?user="+url.QueryEscape(user2), nil, func(w io.Writer, out json.RawMessage) error {
				var ts []registry.TokenInfo
				json.Unmarshal(out, &ts)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tCREATED\tEXPIRES\tDESCRIPTION")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Created.Format(time.RFC3339), t.Expires.Format(time.RFC3339), t.Description)
				}
				return tw.Flush()
			})
		},
	}
	addClientFlags(ls, &cf2)
	ls.Flags().StringVar(&user2, "user", "", "whose tokens (default: yours)")

	var cf3 clientFlags
	var user3 string
	rm := &cobra.Command{
		Use:   "rm ID",
		Short: "Revoke a token by its id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf3, "DELETE", "tokens?id="+url.QueryEscape(args[0])+"&user="+url.QueryEscape(user3), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "token %s revoked\n", args[0])
				return err
			})
		},
	}
	addClientFlags(rm, &cf3)
	rm.Flags().StringVar(&user3, "user", "", "whose token (default: yours)")
	cmd.AddCommand(create, ls, rm)
	return cmd
}

func newRegistryRoleCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Grant and remove roles per namespace: reader, pusher, approver, admin"}
	var cf clientFlags
	set := &cobra.Command{
		Use:   "set USER NAMESPACE ROLE",
		Short: "Give USER ROLE in NAMESPACE (* for every namespace; admins of the namespace)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !registry.ValidRole(args[2]) {
				return withCode(ExitError, fmt.Errorf("role %q: want reader, pusher, approver or admin", args[2]))
			}
			in := map[string]string{"user": args[0], "namespace": args[1], "role": args[2]}
			return simple(env, cmd, &cf, "POST", "roles", in, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "%s is %s in %s\n", args[0], args[2], args[1])
				return err
			})
		},
	}
	addClientFlags(set, &cf)
	var cf2 clientFlags
	rm := &cobra.Command{
		Use:   "rm USER NAMESPACE",
		Short: "Remove USER's role in NAMESPACE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf2, "DELETE", "roles?user="+url.QueryEscape(args[0])+"&namespace="+url.QueryEscape(args[1]), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "%s has no role in %s\n", args[0], args[1])
				return err
			})
		},
	}
	addClientFlags(rm, &cf2)
	var cf3 clientFlags
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the roles you may see",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return simple(env, cmd, &cf3, "GET", "roles", nil, func(w io.Writer, out json.RawMessage) error {
				var rs []struct{ User, Namespace, Role string }
				json.Unmarshal(out, &rs)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USER\tNAMESPACE\tROLE")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.User, r.Namespace, r.Role)
				}
				return tw.Flush()
			})
		},
	}
	addClientFlags(ls, &cf3)
	cmd.AddCommand(set, rm, ls)
	return cmd
}
