package llvm

import "testing"

// TestFeaturesFromCPUInfo: the host's dot-product extensions are added to
// the CPU name LLVM 14 gives it only where the name does not imply them,
// and they select the kernels they are for.
func TestFeaturesFromCPUInfo(t *testing.T) {
	const zen3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma bmi2 vaes\n"
	const zen4 = "processor\t: 0\nflags\t\t: fpu avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16\nprocessor\t: 1\nflags\t\t: fpu\n"
	const adl = "flags\t\t: avx avx2 fma avx_vnni\n"
	const n1 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp\n"
	const a53 = "Features\t: fp asimd evtstrm crc32\n"
	for _, tc := range []struct {
		info, cpu, want string
		triple          string
		dot             dotISA
	}{
		{zen3, "znver3", "", "x86_64-linux-gnu", dotNone},
		{zen4, "znver3", "+avx512f,+avx512bw,+avx512vl,+avx512vnni", "x86_64-linux-gnu", dotVNNI256},
		{zen4, "icelake-server", "", "x86_64-linux-gnu", dotVNNI256}, // the name implies it
		{adl, "x86-64-v3", "+avxvnni", "x86_64-linux-gnu", dotVNNI256},
		{n1, "generic", "+dotprod", "aarch64-linux-gnu", dotSDOT},
		{n1, "neoverse-n1", "", "aarch64-linux-gnu", dotSDOT},
		{a53, "cortex-a53", "", "aarch64-linux-gnu", dotNone},
		{"", "znver3", "", "x86_64-linux-gnu", dotNone},
	} {
		got := featuresFromCPUInfo(tc.info, tc.cpu)
		if got != tc.want {
			t.Errorf("%s on %q: features %q, want %q", tc.cpu, tc.info, got, tc.want)
		}
		tg := Target{Triple: tc.triple, CPU: tc.cpu, Features: got}
		if d := tg.dot(); d != tc.dot {
			t.Errorf("%s with %q: dot kernel %v, want %v", tc.cpu, got, d, tc.dot)
		}
		if tg.preferYMM() != (tc.want != "" && tc.triple == "x86_64-linux-gnu" && tc.cpu == "znver3") {
			t.Errorf("%s with %q: preferYMM %v", tc.cpu, got, tg.preferYMM())
		}
	}
}
