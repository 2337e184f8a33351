// peak: the multiply-add rates of this x86-64 CPU's AVX2 instructions that
// pare's kernels are built on, in register-only loops (no memory), with 8
// independent accumulators: f32 FMA (the f32 kernels), vpmaddwd + vpaddd
// (the i16 pair kernel of int8 convs), vpmaddubsw + vpmaddwd by ones +
// vpaddd (the vpmaddubsw kernel, dotMaddubs). Best of 5 runs each; run by
// `make peak`. Needs gcc and an AVX2 CPU.
#include <stdio.h>
#include <time.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

#define N 20000000L
#define REGS "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10", "ymm11", "ymm12", "ymm13", "ymm14", "ymm15"
#define LOOP(body)                                                                            \
	{                                                                                         \
		long n = N;                                                                           \
		__asm__ volatile("vpxor %%ymm0,%%ymm0,%%ymm0\n vpxor %%ymm1,%%ymm1,%%ymm1\n"          \
				 "vxorps %%ymm14,%%ymm14,%%ymm14\n vpcmpeqw %%ymm15,%%ymm15,%%ymm15\n" \
				 "1:\n" body "dec %0\n jnz 1b\n"                                       \
				 : "+r"(n)::"memory", REGS);                                           \
	}
#define F(d) "vfmadd231ps %%ymm14,%%ymm15,%%ymm" #d "\n"
#define P(t, d) "vpmaddwd %%ymm0,%%ymm1,%%ymm" #t "\n vpaddd %%ymm" #t ",%%ymm" #d ",%%ymm" #d "\n"
#define B(t, d) "vpmaddubsw %%ymm0,%%ymm1,%%ymm" #t "\n vpmaddwd %%ymm" #t ",%%ymm15,%%ymm" #t "\n vpaddd %%ymm" #t ",%%ymm" #d ",%%ymm" #d "\n"

static void fma8(void) { LOOP(F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9)) }
static void pmaddwd8(void) { LOOP(P(10, 2) P(11, 3) P(12, 4) P(13, 5) P(10, 6) P(11, 7) P(12, 8) P(13, 9) P(10, 2) P(11, 3) P(12, 4) P(13, 5) P(10, 6) P(11, 7) P(12, 8) P(13, 9)) }
static void maddubs8(void) { LOOP(B(10, 2) B(11, 3) B(12, 4) B(13, 5) B(10, 6) B(11, 7) B(12, 8) B(13, 9) B(10, 2) B(11, 3) B(12, 4) B(13, 5) B(10, 6) B(11, 7) B(12, 8) B(13, 9)) }

// rate is the best of 5 runs of f, in multiply-adds per ns (macs per loop
// iteration of 16 instructions' worth).
static double rate(void (*f)(void), double macs) {
	double best = 0;
	for (int r = 0; r < 5; r++) {
		double t = now();
		f();
		double v = macs * N / ((now() - t) * 1e9);
		if (v > best)
			best = v;
	}
	return best;
}

int main(void) {
	double f = rate(fma8, 16 * 8);
	double p = rate(pmaddwd8, 16 * 16);
	double b = rate(maddubs8, 16 * 32);
	printf("multiply-adds per ns, one core, registers only (best of 5):\n");
	printf("  f32 FMA (vfmadd231ps, 8 lanes)                      %6.1f  1.00x\n", f);
	printf("  i16 pairs (vpmaddwd + vpaddd, 16 products)          %6.1f  %.2fx\n", p, p / f);
	printf("  u8 x s8 (vpmaddubsw + vpmaddwd by 1 + vpaddd, 32)   %6.1f  %.2fx\n", b, b / f);
	return 0;
}
