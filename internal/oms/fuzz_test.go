package oms

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

const seedStatement = `{
  "_type": "https://in-toto.io/Statement/v1",
  "subject": [{"name": "m", "digest": {"sha256": "5cb2f7a1ca0e8ab4bc4ba8ff2ee1b1e2bb7ca4d7fc8df5ee9c92bbcf0a5f1a2d"}}],
  "predicateType": "https://model_signing/signature/v1.0",
  "predicate": {
    "serialization": {"method": "shards", "hash_type": "sha256", "allow_symlinks": false, "shard_size": 8.0, "ignore_paths": [".git"]},
    "resources": [
      {"algorithm": "sha256-sharded-8", "digest": "a37010c994067764d86540bf479d93b4d0c3bb3955de7b61f951caf2fd0301b0", "name": ".:0:8"},
      {"algorithm": "sha256", "digest": "bd762002a3528a27fb9a8822f822b949d3c9ab7e860af33039c9aa70ebbbe682", "name": "a:b:8:16"}
    ]
  }
}`

const seedLegacy = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"signme-1","digest":{"sha256":"f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1"}}],"predicateType":"https://model_signing/Digests/v0.1","predicate":{}}`

// FuzzParseStatement: any input either parses into a manifest that
// re-encodes and re-parses to the same resources, or fails with a
// FormatError. Never a panic.
func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(seedStatement))
	f.Add([]byte(seedLegacy))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://model_signing/signature/v1.0","predicate":null}`))
	f.Add([]byte(`{"predicate":{"serialization":{"shard_size":1e309}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseStatement(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		if len(m.Resources) == 0 {
			t.Fatal("accepted a manifest without resources")
		}
		if m.Legacy {
			return
		}
		again, err := m.Statement()
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		back, err := ParseStatement(again)
		if err != nil {
			t.Fatalf("re-parsing what we wrote: %v\n%s", err, again)
		}
		if len(back.Resources) != len(m.Resources) || !bytes.Equal(back.RootDigest(), m.RootDigest()) {
			t.Fatal("round trip changed the manifest")
		}
	})
}

// FuzzParseBundle: any input either parses into a bundle whose envelope and
// material are usable, or fails with a FormatError. Never a panic.
func FuzzParseBundle(f *testing.F) {
	payload := base64.StdEncoding.EncodeToString([]byte(seedStatement))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"e8450dec"},"tlogEntries":[]},"dsseEnvelope":{"payload":"` + payload + `","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC","keyid":""}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.3","verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"AQID"},{"rawBytes":"BAU="}]}},"dsseEnvelope":{"payload":"e30","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC","keyid":null}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AQID"},"tlogEntries":[{"logIndex":"1"}],"timestampVerificationData":{"rfc3161Timestamps":[{"signedTimestamp":"AA=="}]}},"dsseEnvelope":{"payload":"e30","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC"}]}}`))
	f.Add([]byte(`{"not": "valid json`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		if len(b.Envelope.Signatures) == 0 || len(b.Envelope.Payload) == 0 || b.Envelope.PayloadType != PayloadType {
			t.Fatalf("accepted an unusable envelope: %+v", b.Envelope)
		}
		switch b.Material {
		case MaterialKey:
			if b.PublicKey == nil {
				t.Fatal("key material without a key")
			}
		case MaterialCertificateChain, MaterialCertificate:
			if len(b.Certificates) == 0 {
				t.Fatal("certificate material without certificates")
			}
		default:
			t.Fatalf("unknown material %q", b.Material)
		}
		if b.Material != MaterialCertificate && (b.Material != MaterialKey || b.PublicKey.Hint != "") {
			out, err := b.Marshal()
			if err != nil {
				t.Fatalf("cannot re-encode a parsed bundle: %v", err)
			}
			if _, err := ParseBundle(out); err != nil {
				t.Fatalf("re-parsing what we wrote: %v", err)
			}
		}
	})
}
