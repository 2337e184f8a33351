package llvm

import (
	"os"
	"strings"
)

// hostFeatures is the -mattr list that HostTarget adds to the host CPU's
// name: the dot-product extensions the host has (its /proc/cpuinfo flags)
// that LLVM 14 does not infer from that name. LLVM 14 names every AMD
// family-19h CPU "znver3", Zen 4 included, which has AVX512-VNNI; an Arm
// core LLVM 14 does not know is "generic", without +dotprod. Empty when
// the name already implies them or the host lacks them.
func hostFeatures(cpu string) string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return featuresFromCPUInfo(string(b), cpu)
}

// featuresFromCPUInfo is hostFeatures on the text of /proc/cpuinfo (x86:
// the "flags" line; AArch64: "Features").
func featuresFromCPUInfo(info, cpu string) string {
	flags := map[string]bool{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if k = strings.TrimSpace(k); k == "flags" || k == "Features" {
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break // the first processor's; they are alike
		}
	}
	var add []string
	switch {
	case flags["avx2"]: // x86-64
		if cpuIn(cpu, vnniCPUs) {
			break
		}
		if flags["avx_vnni"] {
			add = append(add, "+avxvnni")
		}
		if flags["avx512f"] && flags["avx512bw"] && flags["avx512vl"] && flags["avx512_vnni"] {
			add = append(add, "+avx512f", "+avx512bw", "+avx512vl", "+avx512vnni")
		}
	case flags["asimd"]: // AArch64
		if flags["asimddp"] && !cpuIn(cpu, dotprodCPUs) {
			add = append(add, "+dotprod")
		}
	}
	return strings.Join(add, ",")
}

// preferYMM reports whether t's functions get "prefer-vector-width"="256":
// on x86 with AVX-512 enabled by -mattr (hostFeatures on Zen 4), where
// LLVM's tuning for the CPU name would otherwise let the loop vectorizer
// widen the f32 loops to zmm. The integer kernels write their vector
// widths out and are not affected.
func (t Target) preferYMM() bool {
	if t.Arch() != "x86_64" {
		return false
	}
	on, _ := t.hasFeature("avx512f")
	return on
}
