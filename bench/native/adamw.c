/* Native C fused AdamW step: the physical reference for bench/optim.ts. Same per-element math as
 * packages/decoupled/src/core/kernels.ts (theta *= decay; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g g; theta += (-stepSize m) / (sqrt(v) / bc2Sqrt + eps)); one pass, 28 bytes
 * per parameter.
 * Usage: adamw <n>, then one command per stdin line, "<reps> <threads>", answered with one line of
 * <reps> space-separated "wall,cpu" step times in seconds (cpu: CPU time of the process, which
 * other processes' load does not inflate), so a benchmark can interleave its samples with
 * other implementations'). Pages are touched before the first command, so first-touch faults are
 * not measured (as for the prefaulted WASM arena). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static float *P, *G, *M, *V;

static void adamw(float *restrict p, const float *restrict g, float *restrict m,
                  float *restrict v, long n) {
  const float decay = 0.99999f, beta1 = 0.9f, omb1 = 0.1f, beta2 = 0.999f, omb2 = 0.001f,
              bc2 = 0.0316f, eps = 1e-8f, negStep = -1e-3f;
  for (long i = 0; i < n; i++) {
    float theta = p[i] * decay;
    float grad = g[i];
    float mi = m[i] * beta1 + omb1 * grad;
    float vi = v[i] * beta2 + omb2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] = theta + (negStep * mi) / (sqrtf(vi) / bc2 + eps);
  }
}

struct range { long a, b; };
static void *run(void *arg) {
  struct range *r = arg;
  adamw(P + r->a, G + r->a, M + r->a, V + r->a, r->b - r->a);
  return NULL;
}

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  long n = atol(argv[1]);
  float **arrs[4] = {&P, &G, &M, &V};
  for (int k = 0; k < 4; k++) {
    if (posix_memalign((void **)arrs[k], 64, (size_t)n * 4 + 64)) return 1;
    // The inputs of bench/optim.ts's fillInputs: p = 0.01, g = ((i % 1000) - 500) 1e-6, m = v = 0
    // (different data would put a different share of m in the slow subnormal range).
    for (long i = 0; i < n; i++)
      (*arrs[k])[i] = k == 0 ? 0.01f : k == 1 ? (float)((i % 1000) - 500) * 1e-6f : 0.0f;
  }
  pthread_t tid[64];
  struct range rs[64];
  int reps, threads;
  while (scanf("%d %d", &reps, &threads) == 2) {
    if (threads < 1 || threads > 64) return 2;
    for (int r = 0; r < reps; r++) {
      double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
      for (int t = 0; t < threads; t++) {
        rs[t].a = n * t / threads / 16 * 16;
        rs[t].b = t == threads - 1 ? n : n * (t + 1) / threads / 16 * 16;
        if (t > 0) pthread_create(&tid[t], NULL, run, &rs[t]);
      }
      run(&rs[0]);
      for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
      double wall = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
      printf(r + 1 < reps ? "%.9f,%.9f " : "%.9f,%.9f\n", wall, cpu);
    }
    fflush(stdout);
  }
  double checksum = 0;
  for (long i = 0; i < n; i += 4096) checksum += P[i];
  fprintf(stderr, "checksum %g\n", checksum);
  return 0;
}
