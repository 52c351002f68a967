package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client speaks to an aigis registry: the OCI API for pushes and pulls,
// the aigis API for the rest. It authenticates with a token secret (as a
// bearer token) or a user name and password (basic).
type Client struct {
	Base     string // http(s)://host[:port]
	Token    string
	Username string
	Password string
	HTTP     *http.Client
}

// Error is a refusal from the registry: the OCI error code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) request(ctx context.Context, method, path string, body io.Reader, size int64, hdr http.Header) (*http.Response, error) {
	u := strings.TrimSuffix(c.Base, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	return c.httpClient().Do(req)
}

// readError turns a non-success response into an *Error.
func readError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var doc struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &doc) == nil && len(doc.Errors) > 0 {
		return &Error{Status: resp.StatusCode, Code: doc.Errors[0].Code, Message: doc.Errors[0].Message}
	}
	return &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
}

// IsCode reports whether err is a registry refusal with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// HasBlob reports whether repo holds digest (for the caller).
func (c *Client) HasBlob(ctx context.Context, repo, digest string) (bool, error) {
	resp, err := c.request(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+digest, nil, -1, nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &Error{Status: resp.StatusCode, Message: "HEAD blob " + digest}
}

// PushBlob uploads size bytes of r as digest to repo (an upload session,
// then one streamed PUT), unless repo holds it already.
func (c *Client) PushBlob(ctx context.Context, repo string, r io.Reader, size int64, digest string) error {
	if ok, err := c.HasBlob(ctx, repo, digest); err == nil && ok {
		return nil
	}
	resp, err := c.request(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, 0, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return readError(resp)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	lu, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("upload location %q: %v", loc, err)
	}
	q := lu.Query()
	q.Set("digest", digest)
	lu.RawQuery = q.Encode()
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	resp, err = c.request(ctx, http.MethodPut, lu.RequestURI(), r, size, hdr)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return readError(resp)
	}
	resp.Body.Close()
	return nil
}

// PushManifest puts a manifest under ref (a tag or its digest) and returns
// its digest.
func (c *Client) PushManifest(ctx context.Context, repo, ref, mediaType string, body []byte) (string, error) {
	resp, err := c.request(ctx, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body), int64(len(body)), http.Header{"Content-Type": {mediaType}})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", readError(resp)
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest"), nil
}

// Manifest fetches a manifest by tag or digest.
func (c *Client) Manifest(ctx context.Context, repo, ref string) (body []byte, mediaType, digest string, err error) {
	hdr := http.Header{"Accept": {MediaTypeImageManifest + ", " + MediaTypeImageIndex + ", " + MediaTypeDockerManifest + ", " + MediaTypeDockerList}}
	resp, err := c.request(ctx, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, nil, -1, hdr)
	if err != nil {
		return nil, "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", readError(resp)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20+1))
	if err != nil {
		return nil, "", "", err
	}
	if len(body) > 4<<20 {
		return nil, "", "", errors.New("manifest larger than 4 MiB")
	}
	return body, resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"), nil
}

// Blob opens a blob; the caller verifies its digest.
func (c *Client) Blob(ctx context.Context, repo, digest string) (io.ReadCloser, int64, error) {
	resp, err := c.request(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+digest, nil, -1, nil)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, readError(resp)
	}
	n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return resp.Body, n, nil
}

// Referrers lists the referrers of digest (of one artifact type, if set).
func (c *Client) Referrers(ctx context.Context, repo, digest, artifactType string) ([]Descriptor, error) {
	p := "/v2/" + repo + "/referrers/" + digest
	if artifactType != "" {
		p += "?artifactType=" + url.QueryEscape(artifactType)
	}
	resp, err := c.request(ctx, http.MethodGet, p, nil, -1, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	defer resp.Body.Close()
	var idx ManifestDoc
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&idx); err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// API calls the aigis API: in (if not nil) is sent as JSON, the answer is
// decoded into out (if not nil).
func (c *Client) API(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	size := int64(-1)
	var hdr http.Header
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, size = bytes.NewReader(b), int64(len(b))
		hdr = http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := c.request(ctx, method, "/aigis/v1/"+path, body, size, hdr)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
