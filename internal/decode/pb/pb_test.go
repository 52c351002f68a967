package pb_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aigis-dev/aigis/internal/decode/pb"
	"github.com/aigis-dev/aigis/internal/testutil"
)

func TestWalkNestedAndBounds(t *testing.T) {
	inner := testutil.PB(nil).String(1, "op").Varint(2, 7)
	msg := testutil.PB(nil).Msg(3, inner).Varint(4, 1)
	r := pb.NewReader(bytes.NewReader(msg), int64(len(msg)))
	var got []string
	err := r.Walk(0, r.Size(), 0, func(f pb.Field) error {
		if f.Num == 3 {
			return r.Walk(f.Off, f.Off+f.Len, 1, func(g pb.Field) error {
				if g.Num == 1 {
					s, err := r.String(g, 16)
					got = append(got, s)
					return err
				}
				return nil
			})
		}
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != "op" {
		t.Fatalf("%v %v", got, err)
	}
	// A length that runs past its message is an error, not a read.
	bad := append(protowire.AppendTag(nil, 1, protowire.BytesType), 0xff, 0xff, 0x03)
	r = pb.NewReader(bytes.NewReader(bad), int64(len(bad)))
	var pe *pb.Error
	if err := r.Walk(0, r.Size(), 0, func(pb.Field) error { return nil }); !errors.As(err, &pe) {
		t.Fatalf("want a pb.Error, got %v", err)
	}
	// Depth is bounded.
	if err := r.Walk(0, r.Size(), pb.MaxDepth+1, nil); !errors.As(err, &pe) {
		t.Fatalf("depth: %v", err)
	}
	// Strings over the bound are refused.
	big := testutil.PB(nil).String(1, "0123456789")
	r = pb.NewReader(bytes.NewReader(big), int64(len(big)))
	r.Walk(0, r.Size(), 0, func(f pb.Field) error {
		if _, err := r.String(f, 4); err == nil {
			t.Error("long string accepted")
		}
		return nil
	})
}

func TestLooks(t *testing.T) {
	spec := map[protowire.Number]protowire.Type{1: protowire.VarintType, 2: protowire.BytesType}
	ok := testutil.PB(nil).Varint(1, 9).String(2, "pytorch")
	if !pb.Looks(ok, spec, 1) {
		t.Error("valid head rejected")
	}
	if pb.Looks([]byte("hello world, not a protobuf"), spec, 0) {
		t.Error("text accepted")
	}
	cut := testutil.PB(nil).Varint(1, 9).String(2, "a long producer name")[:8]
	if !pb.Looks(cut, spec, 1) {
		t.Error("a head cut inside a bytes field is still a message start")
	}
}

// TestFieldMayNotCrossItsMessage: a varint that starts inside a nested
// message and ends after it is malformed, even when the bytes after the
// message happen to be readable.
func TestFieldMayNotCrossItsMessage(t *testing.T) {
	// outer: field 1 (bytes, len 2) = [field 2 varint, first byte 0x80 (continues)], then 0x01
	data := []byte{0x0a, 0x02, 0x10, 0x80, 0x01}
	r := pb.NewReader(bytes.NewReader(data), int64(len(data)))
	err := r.Walk(0, int64(len(data)), 0, func(f pb.Field) error {
		if f.Num == 1 {
			return r.Walk(f.Off, f.Off+f.Len, 1, func(pb.Field) error { return nil })
		}
		return nil
	})
	if err == nil {
		t.Fatal("a varint crossing the end of its message was accepted")
	}
}
