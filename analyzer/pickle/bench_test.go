package pickle_test

import (
	"context"
	"os"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/scan"
)

// BenchmarkScanFile measures the engine on $AIGIS_BENCH_FILE (for
// example the inputs of scripts/bench-scan.sh); it skips when unset.
func BenchmarkScanFile(b *testing.B) {
	p := os.Getenv("AIGIS_BENCH_FILE")
	if p == "" {
		b.Skip("set AIGIS_BENCH_FILE to a file to scan")
	}
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	s := scan.New(scan.Options{})
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		s.ScanFile(context.Background(), p, p)
	}
}

// BenchmarkScanDir measures a whole walk of $AIGIS_BENCH_DIR.
func BenchmarkScanDir(b *testing.B) {
	p := os.Getenv("AIGIS_BENCH_DIR")
	if p == "" {
		b.Skip("set AIGIS_BENCH_DIR to a directory to scan")
	}
	s := scan.New(scan.Options{})
	for i := 0; i < b.N; i++ {
		if _, err := s.Scan(context.Background(), []string{p}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVMOpcodeHeavy measures the VM on a generated 16 MB protocol-4
// pickle of small lists and dicts (every byte an opcode), in memory.
func BenchmarkVMOpcodeHeavy(b *testing.B) {
	p := pkl.New(4).EmptyDict().Memoize().Mark()
	for i := 0; len(p.Bytes()) < 16<<20; i++ {
		p.Str("row").Memoize().EmptyList().Memoize().Mark().Int(i % 60000).Int(7).Str("tok").Memoize().
			EmptyDict().Memoize().Str("id").Int(i & 0xff).SetItem().Appends()
		if i%1000 == 999 {
			p.SetItems().Mark()
		}
	}
	data := p.SetItems().Stop().Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := scantest.Memory(data, "x.pkl")
		if a.Verdict.String() != "clean" {
			b.Fatalf("verdict %s", a.Verdict)
		}
	}
}

// BenchmarkVMProtocol0 measures the text opcodes (INT, LONG, FLOAT, PUT,
// GET, STRING) of a generated 4 MB protocol-0 pickle, in memory.
func BenchmarkVMProtocol0(b *testing.B) {
	p := pkl.New(0).Raw('(')
	for i := 0; len(p.Bytes()) < 4<<20; i++ {
		p.Text('I', "12345").Text('p', "1").Raw('0').Text('L', "123456789012345678901234567890L").Text('F', "1.5").
			Text('S', "'tok'").Text('g', "1").Raw('0')
	}
	data := p.Raw('l').Stop().Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := scantest.Memory(data, "x.pkl")
		if a.Verdict.String() != "clean" {
			b.Fatalf("verdict %s", a.Verdict)
		}
	}
}
