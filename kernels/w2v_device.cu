// The device engine's word2vec kernel: one launch trains millions of tokens, sampling on the
// device. Loaded by gputrain/kernels/w2v_device.py (w2v_device_train, and the variant
// w2v_device_train_ring: the same source with RING on, see below); the NumPy twin is
// gputrain/w2v/device_twin.py and the draws are gputrain/w2v/sampling.py.
//
// The corpus (int32 word ids) is on the device; ids[i] is the token at global position
// ids_base + i. A launch trains chunks first_chunk .. first_chunk + n_chunks - 1, chunk j
// being the global positions [starts[j], starts[j+1]) (a sentence, or a piece of at most
// max_chunk tokens of one). Blocks take chunks in a grid-stride loop. Per chunk a block:
//   1. draws which tokens survive subsampling and compacts the kept ones (ids, positions,
//      dynamic windows) into shared memory: windows count kept words within the chunk;
//   2. trains the kept centres in steps of `sub` consecutive centres. A step reads the
//      input rows of every position its windows touch (sub + 2*window rows) and the output
//      rows of its centres into shared memory once, computes every coefficient from those
//      reads, then adds each row's whole gradient to the tables once (atomicAdd). So a step
//      is the exact minibatch gradient of its centres (step.py's sgns_step / cbow_step
//      semantics, with a learning rate per centre from its global word position).
// The RING variant (w2v_device_train_ring, not the default) reads and writes the input
// (context) rows once per lifetime, as FULL-W2V does: the row of kept position p lives in
// slot p % R of a shared-memory ring (R = sub + 2*window) from the first step whose windows
// reach p to the last; each step adds its gradient to the ring copy (and to every other copy
// of the same word in the ring, so that the block sees what sequential steps on the table
// would), and the row's summed update goes to w_in with one atomicAdd when p leaves the
// ring. A row entering the ring is read from w_in plus the pending updates of the copies of
// its word still in the ring. For one block both variants compute the same numbers. The
// ring saves HBM reads of input rows but costs two more R x ld float arrays of shared
// memory (smaller steps) and ~R^2 x dim shared reads per step: which is faster is for a GPU
// to say (scripts/bench_gpu.py times both).
// Output columns of a centre (n_out of them, shared by all its contexts): with negative
// sampling (negative > 0) first the positive and `negative` draws, rows of w_out; with
// hierarchical softmax (hs_len > 0) then the centre's Huffman path, hs_len inner nodes of
// w_hs (points[centre * hs_len + j], -1 padded) with labels from psigns (+1: code bit 0,
// -1: code bit 1). Both on: word2vec.c's -hs 1 -negative K, both errors from the same reads.
// Loss and pair counts accumulate per thread, are summed per block at the end and added to
// totals[0..1] (double) once per block: the host reads them once per launch.
//
// Draws: counter-based (splitmix64 over seed/epoch key, position and purpose), identical to
// sampling.py bit for bit. Purposes: 0 keep, 1 window, 2 + k negative k.
//
// NONDETERMINISTIC across blocks (Hogwild, as word2vec.c): blocks of different chunks
// update shared rows with atomicAdd in no fixed order. A grid of one block is sequential
// and equals the twin with one chunk at a time.

#ifndef GPUTRAIN_DYNAMIC_SHARED
#define GPUTRAIN_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

#define W2VD_CLIP 30.0f
#define W2VD_GOLDEN 0x9E3779B97F4A7C15ull
#define W2VD_PURPOSES 128ull

__device__ __forceinline__ int w2vd_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int w2vd_max(int a, int b) { return a > b ? a : b; }

__device__ __forceinline__ unsigned long long w2vd_mix(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ unsigned long long w2vd_draw(unsigned long long key, long long pos,
                                                        unsigned purpose) {
  return w2vd_mix(key + ((unsigned long long)pos * W2VD_PURPOSES + purpose) * W2VD_GOLDEN);
}

__device__ __forceinline__ bool w2vd_keep(unsigned long long key, long long pos, int id,
                                          const float* keep_prob) {
  const float u = (float)(w2vd_draw(key, pos, 0u) >> 40) * 5.9604644775390625e-08f;  // 2^-24
  return u < keep_prob[id];
}

__device__ __forceinline__ int w2vd_reach(unsigned long long key, long long pos, int window) {
  return 1 + (int)((w2vd_draw(key, pos, 1u) >> 32) % (unsigned long long)window);
}

__device__ __forceinline__ int w2vd_negative(unsigned long long key, long long pos, int k,
                                             const int* table, unsigned table_size) {
  const unsigned long long r = w2vd_draw(key, pos, 2u + (unsigned)k) >> 32;
  return table[(r * (unsigned long long)table_size) >> 32];
}

// word2vec's linear decay at global word `word` (double, then rounded once to float).
__device__ __forceinline__ float w2vd_lr(long long word, double total, double alpha,
                                         double min_alpha) {
  double progress = (double)word / total;
  if (progress > 1.0) progress = 1.0;
  double a = alpha - (alpha - min_alpha) * progress;
  if (a < min_alpha) a = min_alpha;
  return (float)a;
}

// For a signed logit z: the loss term log1p(exp(-z)) and 1 - sigmoid(z), z clipped to +-30.
__device__ __forceinline__ float w2vd_terms(float z, float* loss_term) {
  const float e = expf(-fminf(fmaxf(z, -W2VD_CLIP), W2VD_CLIP));
  *loss_term = log1pf(e);
  return e / (1.0f + e);
}

// The coefficient lr * (label - sigmoid(in . out)) of an input row and an output column
// (sign +1: label 1, -1: label 0), adding its loss term and one pair to the tallies.
__device__ __forceinline__ float w2vd_coef(const float* in, const float* out, int dim,
                                           float sign, float lr, double* loss, double* pairs) {
  float dot = 0.0f;
  for (int e = 0; e < dim; ++e) dot += in[e] * out[e];
  float term;
  const float coef = w2vd_terms(sign * dot, &term) * sign * lr;
  *loss += term;
  *pairs += 1.0;
  return coef;
}

// Offset (-W..-1, 1..W) of context column c (0..2W-1), and back.
__device__ __forceinline__ int w2vd_offset(int c, int window) {
  return c < window ? c - window : c - window + 1;
}

// A step's input-row updates: each of its nrows positions (relative to the step's first
// centre i0: from lo) gets the gradient over every centre b < nb whose window holds it,
// sum_t g[b][col][t] * out[b][t], added to w_in once (RING: written to gin in the
// position's ring slot, R slots). Skip-gram keeps coefficients per context column
// (cols = 2W), CBOW per centre (cols = 1: the error of the mean goes in full to every
// context row). kid and kreach start at the step's first centre.
template <bool RING>
__device__ void w2vd_input_grads(float* __restrict__ w_in, float* gin, const int* kid,
                                 const int* kreach, const float* g, const float* outs, int cols,
                                 int nb, int i0, int lo, int nrows, int W, int K1, int R,
                                 int dim, int ld) {
  for (int x = threadIdx.x; x < nrows * dim; x += blockDim.x) {
    const int p = lo + x / dim, e = x % dim;
    float grad = 0.0f;
    bool touched = false;
    for (int b = w2vd_max(0, p - W); b <= w2vd_min(nb - 1, p + W); ++b) {
      const int off = p - b;
      if (off == 0 || (off < 0 ? -off : off) > kreach[b]) continue;
      const int col = cols == 1 ? 0 : (off < 0 ? off + W : off + W - 1);
      const float* gc = g + (b * cols + col) * K1;
      for (int t = 0; t < K1; ++t) grad += gc[t] * outs[(b * K1 + t) * ld + e];
      touched = true;
    }
    if constexpr (RING) {
      gin[((i0 + p) % R) * ld + e] = grad;
    } else if (touched) {
      atomicAdd(&w_in[(long long)kid[p] * dim + e], grad);
    }
  }
}

// Dynamic shared memory (4-byte words), carved in this order; gputrain/kernels/w2v_device.py
// (w2v_device_shared_bytes) computes the same size:
//   int   kid[max_chunk], krel[max_chunk], kreach[max_chunk], scan[blockDim + 1],
//         tids[sub * n_out]
//   float sgn[sub * n_out], lrs[sub], rows[R * ld], (RING only: dlt[R * ld], gin[R * ld]),
//         outs[sub * n_out * ld], g[sub * 2W * n_out], h[sub * ld]
// with R = sub + 2W (the rows a step's windows touch; RING: the ring's slots of current
// values, pending updates and this step's gradients),
// with n_out = (negative ? negative + 1 : 0) + hs_len
// where ld = dim | 1: an odd row stride, so that threads reading the same element of
// different rows hit different banks.
template <bool RING>
__device__ __forceinline__ void w2vd_train(
    float* __restrict__ w_in, float* __restrict__ w_out, float* __restrict__ w_hs,
    const int* __restrict__ ids, long long ids_base, const long long* __restrict__ starts,
    int first_chunk, int n_chunks, const float* __restrict__ keep_prob,
    const int* __restrict__ table, unsigned table_size, const int* __restrict__ points,
    const float* __restrict__ psigns, int hs_len, unsigned long long key,
    long long words_before, double total_words, double alpha, double min_alpha, int window,
    int negative, int dim, int sub, int max_chunk, int cbow, double* __restrict__ totals,
    double* shared_words) {
  int* smem = reinterpret_cast<int*>(shared_words);
  const int T = blockDim.x, tid = threadIdx.x;
  const int W = window, W2 = 2 * window, ld = dim | 1;
  const int NS = negative > 0 ? negative + 1 : 0, K1 = NS + hs_len;  // output columns
  int* kid = smem;
  int* krel = kid + max_chunk;
  int* kreach = krel + max_chunk;
  int* scan = kreach + max_chunk;
  int* tids = scan + T + 1;
  float* sgn = reinterpret_cast<float*>(tids + sub * K1);
  float* lrs = sgn + sub * K1;
  const int R = sub + W2;
  float* rows = lrs + sub;
  float* dlt = rows + R * ld;  // RING only
  float* gin = dlt + R * ld;   // RING only
  float* outs = RING ? gin + R * ld : dlt;
  float* g = outs + sub * K1 * ld;
  float* h = g + sub * W2 * K1;
  double loss = 0.0, pairs = 0.0;

  for (int chunk = blockIdx.x; chunk < n_chunks; chunk += gridDim.x) {
    const long long start = starts[first_chunk + chunk];
    const int n = (int)(starts[first_chunk + chunk + 1] - start);
    // 1. subsample and compact: thread t owns the positions [lo, hi) of the chunk
    const int seg = (n + T - 1) / T;
    const int lo = w2vd_min(n, tid * seg), hi = w2vd_min(n, lo + seg);
    int count = 0;
    for (int i = lo; i < hi; ++i)
      count += w2vd_keep(key, start + i, ids[start + i - ids_base], keep_prob);
    scan[tid] = count;
    __syncthreads();
    if (tid == 0) {
      int run = 0;
      for (int t = 0; t < T; ++t) {
        const int c = scan[t];
        scan[t] = run;
        run += c;
      }
      scan[T] = run;
    }
    __syncthreads();
    int at = scan[tid];
    for (int i = lo; i < hi; ++i) {
      const int id = ids[start + i - ids_base];
      if (w2vd_keep(key, start + i, id, keep_prob)) {
        kid[at] = id;
        krel[at] = i;
        kreach[at] = w2vd_reach(key, start + i, window);
        ++at;
      }
    }
    const int n_kept = scan[T];
    __syncthreads();

    // 2. steps of `sub` consecutive kept centres (RING: the ring holds [plo, loaded))
    int loaded = 0;
    for (int i0 = 0; i0 < n_kept; i0 += sub) {
      const int nb = w2vd_min(sub, n_kept - i0);
      const int plo = w2vd_max(0, i0 - W), phi = w2vd_min(n_kept, i0 + nb + W);
      const int nrows = phi - plo;
      // the shared row of position p (plo <= p < phi)
      auto slot = [&](int p) { return RING ? p % R : p - plo; };
      if constexpr (RING) {
        for (int x = tid; x < (phi - loaded) * dim; x += T) {  // rows entering the ring
          const int p = loaded + x / dim, e = x % dim, s = p % R;
          float v = w_in[(long long)kid[p] * dim + e];
          for (int q = plo; q < loaded; ++q)
            if (kid[q] == kid[p]) v += dlt[(q % R) * ld + e];
          rows[s * ld + e] = v;
          dlt[s * ld + e] = 0.0f;
        }
        loaded = phi;
      } else {
        for (int x = tid; x < nrows * dim; x += T)
          rows[x / dim * ld + x % dim] = w_in[(long long)kid[plo + x / dim] * dim + x % dim];
      }
      for (int x = tid; x < nb * K1 * dim; x += T) {
        const int bt = x / dim, b = bt / K1, t = bt % K1;
        const int centre = kid[i0 + b];
        int row = centre;
        float sign = 1.0f;
        const float* src = w_out;
        if (t >= NS) {  // hierarchical softmax: the path's inner nodes
          const long long at = (long long)centre * hs_len + (t - NS);
          row = points[at];
          sign = psigns[at];
          src = w_hs;
        } else if (t > 0) {
          row = w2vd_negative(key, start + krel[i0 + b], t - 1, table, table_size);
          sign = -1.0f;
          if (row == centre) row = -1;  // masked, as in batches.py
        }
        outs[bt * ld + x % dim] = row >= 0 ? src[(long long)row * dim + x % dim] : 0.0f;
        if (x % dim == 0) {
          tids[bt] = row;
          sgn[bt] = sign;
        }
      }
      for (int b = tid; b < nb; b += T)
        lrs[b] = w2vd_lr(words_before + start + krel[i0 + b], total_words, alpha, min_alpha);
      __syncthreads();

      if (!cbow) {
        // coefficients g[b][c][t] = lr * (label - sigmoid(in . out)), 0 when invalid
        for (int x = tid; x < nb * W2 * K1; x += T) {
          const int b = x / (W2 * K1), c = (x / K1) % W2, t = x % K1;
          const int off = w2vd_offset(c, W), p = i0 + b + off;
          float coef = 0.0f;
          if (p >= 0 && p < n_kept && (off < 0 ? -off : off) <= kreach[i0 + b] &&
              tids[b * K1 + t] >= 0) {
            coef = w2vd_coef(rows + slot(p) * ld, outs + (b * K1 + t) * ld, dim,
                             sgn[b * K1 + t], lrs[b], &loss, &pairs);
          }
          g[x] = coef;
        }
        __syncthreads();
        w2vd_input_grads<RING>(w_in, gin, kid + i0, kreach + i0, g, outs, W2, nb, i0, plo - i0,
                               nrows, W, K1, R, dim, ld);
        for (int x = tid; x < nb * K1 * dim; x += T) {
          const int bt = x / dim, b = bt / K1, t = bt % K1, e = x % dim;
          if (tids[bt] < 0) continue;
          float grad = 0.0f;
          for (int c = 0; c < W2; ++c) {
            const float coef = g[(b * W2 + c) * K1 + t];
            if (coef == 0.0f) continue;  // invalid (or a zero step)
            grad += coef * rows[slot(i0 + b + w2vd_offset(c, W)) * ld + e];
          }
          atomicAdd(&(t < NS ? w_out : w_hs)[(long long)tids[bt] * dim + e], grad);
        }
      } else {
        // CBOW: h[b] = mean of the valid context rows
        for (int x = tid; x < nb * dim; x += T) {
          const int b = x / dim, e = x % dim;
          float sum = 0.0f;
          int cnt = 0;
          for (int c = 0; c < W2; ++c) {
            const int off = w2vd_offset(c, W), p = i0 + b + off;
            if (p < 0 || p >= n_kept || (off < 0 ? -off : off) > kreach[i0 + b]) continue;
            sum += rows[slot(p) * ld + e];
            ++cnt;
          }
          h[b * ld + e] = cnt ? sum * (1.0f / (float)cnt) : 0.0f;
          if (e == 0) scan[b] = cnt;  // the compaction scan is free again
        }
        __syncthreads();
        for (int x = tid; x < nb * K1; x += T) {
          const int b = x / K1;
          float coef = 0.0f;
          if (scan[b] > 0 && tids[x] >= 0) {
            coef = w2vd_coef(h + b * ld, outs + x * ld, dim, sgn[x], lrs[b], &loss, &pairs);
          }
          g[x] = coef;
        }
        __syncthreads();
        // every context row gets the whole sum_t g[t] out[t] of each centre it serves
        w2vd_input_grads<RING>(w_in, gin, kid + i0, kreach + i0, g, outs, 1, nb, i0, plo - i0,
                               nrows, W, K1, R, dim, ld);
        for (int x = tid; x < nb * K1 * dim; x += T) {
          const int bt = x / dim, b = bt / K1, e = x % dim;
          if (tids[bt] < 0 || scan[b] == 0) continue;
          float* dst = bt % K1 < NS ? w_out : w_hs;
          atomicAdd(&dst[(long long)tids[bt] * dim + e], g[bt] * h[b * ld + e]);
        }
      }
      __syncthreads();  // the next step overwrites the shared rows
      if constexpr (RING) {
        // the step's input gradients: to every ring copy of the word, pending for w_in
        for (int x = tid; x < nrows * dim; x += T) {
          const int p = plo + x / dim, e = x % dim, s = p % R;
          float total = 0.0f;
          for (int q = plo; q < phi; ++q)
            if (kid[q] == kid[p]) total += gin[(q % R) * ld + e];
          rows[s * ld + e] += total;
          dlt[s * ld + e] += gin[s * ld + e];
        }
        __syncthreads();
        // rows leaving the ring (outside the next step's windows): their update, once
        const int stays = i0 + sub < n_kept ? w2vd_max(0, i0 + sub - W) : phi;
        for (int x = tid; x < (stays - plo) * dim; x += T) {
          const int p = plo + x / dim, e = x % dim;
          const float d = dlt[(p % R) * ld + e];
          if (d != 0.0f) atomicAdd(&w_in[(long long)kid[p] * dim + e], d);
        }
        __syncthreads();  // the next step reads w_in and overwrites the shared arrays
      }
    }
  }
  // the block's tallies, summed in the (now free) shared memory: 16 * T bytes <= the
  // 12 * max_chunk bytes of the chunk arrays, as the host checks T <= max_chunk
  __syncthreads();
  shared_words[tid] = loss;
  shared_words[T + tid] = pairs;
  __syncthreads();
  if (tid == 0) {
    for (int t = 1; t < T; ++t) {
      loss += shared_words[t];
      pairs += shared_words[T + t];
    }
    atomicAdd(&totals[0], loss);
    atomicAdd(&totals[1], pairs);
  }
}

// The default kernel and the RING variant: the same parameters, the same body.
extern "C" __global__ void w2v_device_train(
    float* __restrict__ w_in, float* __restrict__ w_out, float* __restrict__ w_hs,
    const int* __restrict__ ids, long long ids_base, const long long* __restrict__ starts,
    int first_chunk, int n_chunks, const float* __restrict__ keep_prob,
    const int* __restrict__ table, unsigned table_size, const int* __restrict__ points,
    const float* __restrict__ psigns, int hs_len, unsigned long long key,
    long long words_before, double total_words, double alpha, double min_alpha, int window,
    int negative, int dim, int sub, int max_chunk, int cbow, double* __restrict__ totals) {
  GPUTRAIN_DYNAMIC_SHARED(double, shared_words);  // double: 8-byte aligned for the tallies
  w2vd_train<false>(w_in, w_out, w_hs, ids, ids_base, starts, first_chunk, n_chunks, keep_prob,
                    table, table_size, points, psigns, hs_len, key, words_before, total_words,
                    alpha, min_alpha, window, negative, dim, sub, max_chunk, cbow, totals,
                    shared_words);
}

extern "C" __global__ void w2v_device_train_ring(
    float* __restrict__ w_in, float* __restrict__ w_out, float* __restrict__ w_hs,
    const int* __restrict__ ids, long long ids_base, const long long* __restrict__ starts,
    int first_chunk, int n_chunks, const float* __restrict__ keep_prob,
    const int* __restrict__ table, unsigned table_size, const int* __restrict__ points,
    const float* __restrict__ psigns, int hs_len, unsigned long long key,
    long long words_before, double total_words, double alpha, double min_alpha, int window,
    int negative, int dim, int sub, int max_chunk, int cbow, double* __restrict__ totals) {
  GPUTRAIN_DYNAMIC_SHARED(double, shared_words);
  w2vd_train<true>(w_in, w_out, w_hs, ids, ids_base, starts, first_chunk, n_chunks, keep_prob,
                   table, table_size, points, psigns, hs_len, key, words_before, total_words,
                   alpha, min_alpha, window, negative, dim, sub, max_chunk, cbow, totals,
                   shared_words);
}

// The draws of positions [base, base + n) for tests: keep flag, window, negatives
// (negs[i * negative + k]); every position, kept or not.
extern "C" __global__ void w2v_device_draws(const int* __restrict__ ids, long long base, int n,
                                            const float* __restrict__ keep_prob,
                                            const int* __restrict__ table, unsigned table_size,
                                            unsigned long long key, int window, int negative,
                                            int* __restrict__ keep, int* __restrict__ reach,
                                            int* __restrict__ negs) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const long long pos = base + i;
    keep[i] = w2vd_keep(key, pos, ids[i], keep_prob);
    reach[i] = w2vd_reach(key, pos, window);
    for (int k = 0; k < negative; ++k)
      negs[(long long)i * negative + k] = w2vd_negative(key, pos, k, table, table_size);
  }
}
