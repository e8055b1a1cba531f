// One word2vec minibatch step (negative sampling), HogBatch-style. Loaded by
// gputrain/kernels.py; the NumPy twin and the exact algorithm are in gputrain/w2v/step.py.
//
//   w_in, w_out  float32 (vocab, dim), updated in place
//   contexts     int32 (batch, n_ctx): rows of w_in for centre b, -1 = padding
//   targets      int32 (batch, n_out): rows of w_out, column 0 the positive (the centre
//                word), then its negatives; -1 = masked
//   signs        float32 (batch, n_out): the label of each target, +1 (label 1) or -1
//                (label 0); negative sampling passes +1 then -1s, hierarchical softmax
//                the code bits of the centre's Huffman path (+1 for bit 0, -1 for bit 1)
//                with targets = its inner nodes (gputrain/w2v/huffman.py)
//   out_weight   float32 (batch, n_out): the share of its update each target row gets (1
//                for negative sampling; HS caps how far one batch moves a shared inner node)
//   loss         float32 (batch,): the loss of centre b before the update
//
// Layout: one warp per centre word, lanes across the vector dimension (lane l owns elements
// l, l+32, ... of every row, so loads are coalesced and shared memory is bank-conflict
// free). The centre's output rows are read from global memory once, kept in shared memory
// and reused by every context word; dot products are warp-shuffle reductions. All reads
// of a centre come before its writes, so within one centre the step is the exact batched
// gradient of step.py even when a row repeats.
//
// NONDETERMINISTIC across centres (Hogwild, as word2vec.c): warps of different centres
// update shared rows (frequent words, negatives) with atomicAdd in no fixed order and may
// read a row while another warp updates it. With no row repeated across a batch the
// result equals step.py's up to float32 rounding.

#ifndef GPUTRAIN_DYNAMIC_SHARED
#define GPUTRAIN_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

#define W2V_CLIP 30.0f

__device__ __forceinline__ float w2v_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// For a signed logit z (z = logit for the positive, -logit for a negative): the loss term
// log1p(exp(-z)) and 1 - sigmoid(z), with z clipped to [-30, 30] as step.py does.
__device__ __forceinline__ float w2v_terms(float z, float* loss_term) {
  const float e = expf(-fminf(fmaxf(z, -W2V_CLIP), W2V_CLIP));
  *loss_term = log1pf(e);
  return e / (1.0f + e);
}

// Shared memory per warp: out rows (n_out*dim), their gradient (n_out*dim), one input row
// (dim) and the coefficients g (n_ctx*n_out) floats.
extern "C" __global__ void sgns_step(float* __restrict__ w_in, float* __restrict__ w_out,
                                     const int* __restrict__ contexts,
                                     const int* __restrict__ targets,
                                     const float* __restrict__ signs,
                                     const float* __restrict__ out_weight,
                                     float* __restrict__ loss,
                                     float lr, int batch, int n_ctx, int n_out, int dim) {
  GPUTRAIN_DYNAMIC_SHARED(float, smem);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int b = blockIdx.x * (blockDim.x >> 5) + warp;
  if (b >= batch) return;  // uniform over the warp; only warp-level syncs follow
  float* outs = smem + (long long)warp * (2 * n_out * dim + dim + n_ctx * n_out);
  float* dout = outs + n_out * dim;
  float* in_row = dout + n_out * dim;
  float* g = in_row + dim;
  const int* ctx = contexts + (long long)b * n_ctx;
  const int* tgt = targets + (long long)b * n_out;
  const float* sgn = signs + (long long)b * n_out;
  const float* ow = out_weight + (long long)b * n_out;

  for (int t = 0; t < n_out; ++t) {
    const int row = tgt[t];
    for (int e = lane; e < dim; e += 32) {
      outs[t * dim + e] = row >= 0 ? w_out[(long long)row * dim + e] : 0.0f;
      dout[t * dim + e] = 0.0f;
    }
  }
  float loss_sum = 0.0f;
  // Pass 1: coefficients g[c, t] and the output gradient, from the rows before the step.
  for (int c = 0; c < n_ctx; ++c) {
    const int row = ctx[c];
    if (row < 0) continue;
    for (int e = lane; e < dim; e += 32) in_row[e] = w_in[(long long)row * dim + e];
    for (int t = 0; t < n_out; ++t) {
      float coef = 0.0f;
      if (tgt[t] >= 0) {
        float part = 0.0f;
        for (int e = lane; e < dim; e += 32) part += in_row[e] * outs[t * dim + e];
        const float logit = w2v_warp_sum(part);
        const float sign = sgn[t];
        float term;
        coef = w2v_terms(sign * logit, &term) * sign * lr;
        loss_sum += term * fabsf(sign);
        for (int e = lane; e < dim; e += 32) dout[t * dim + e] += coef * in_row[e];
      }
      if (lane == 0) g[c * n_out + t] = coef;
    }
  }
  __syncwarp();  // g written by lane 0, read by all lanes
  // Pass 2: the input rows' gradient, from the cached output rows.
  for (int c = 0; c < n_ctx; ++c) {
    const int row = ctx[c];
    if (row < 0) continue;
    for (int e = lane; e < dim; e += 32) {
      float acc = 0.0f;
      for (int t = 0; t < n_out; ++t) acc += g[c * n_out + t] * outs[t * dim + e];
      atomicAdd(&w_in[(long long)row * dim + e], acc);
    }
  }
  for (int t = 0; t < n_out; ++t) {
    const int row = tgt[t];
    if (row < 0) continue;
    for (int e = lane; e < dim; e += 32)
      atomicAdd(&w_out[(long long)row * dim + e], ow[t] * dout[t * dim + e]);
  }
  if (lane == 0) loss[b] = loss_sum;
}

// CBOW: the input of centre b is the mean h of its valid context rows. Shared memory per
// warp: h (dim), its gradient (dim) and g (n_out) floats.
extern "C" __global__ void cbow_step(float* __restrict__ w_in, float* __restrict__ w_out,
                                     const int* __restrict__ contexts,
                                     const int* __restrict__ targets,
                                     const float* __restrict__ signs,
                                     const float* __restrict__ out_weight,
                                     float* __restrict__ loss,
                                     float lr, int batch, int n_ctx, int n_out, int dim) {
  GPUTRAIN_DYNAMIC_SHARED(float, smem);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int b = blockIdx.x * (blockDim.x >> 5) + warp;
  if (b >= batch) return;  // uniform over the warp
  float* h = smem + (long long)warp * (2 * dim + n_out);
  float* gh = h + dim;
  float* g = gh + dim;
  const int* ctx = contexts + (long long)b * n_ctx;
  const int* tgt = targets + (long long)b * n_out;
  const float* sgn = signs + (long long)b * n_out;
  const float* ow = out_weight + (long long)b * n_out;

  int count = 0;
  for (int c = 0; c < n_ctx; ++c) count += ctx[c] >= 0;
  if (count == 0) {  // no context: skipped, as in step.py
    if (lane == 0) loss[b] = 0.0f;
    return;
  }
  const float inv_n = 1.0f / (float)count;
  for (int e = lane; e < dim; e += 32) {
    float sum = 0.0f;
    for (int c = 0; c < n_ctx; ++c)
      if (ctx[c] >= 0) sum += w_in[(long long)ctx[c] * dim + e];
    h[e] = sum * inv_n;
    gh[e] = 0.0f;
  }
  float loss_sum = 0.0f;
  for (int t = 0; t < n_out; ++t) {
    const int row = tgt[t];
    float coef = 0.0f;
    if (row >= 0) {
      const float* out = w_out + (long long)row * dim;
      float part = 0.0f;
      for (int e = lane; e < dim; e += 32) part += h[e] * out[e];
      const float logit = w2v_warp_sum(part);
      const float sign = sgn[t];
      float term;
      coef = w2v_terms(sign * logit, &term) * sign * lr;
      loss_sum += term * fabsf(sign);
      for (int e = lane; e < dim; e += 32) gh[e] += coef * out[e];
    }
    if (lane == 0) g[t] = coef;
  }
  __syncwarp();  // g written by lane 0, read by all lanes
  for (int t = 0; t < n_out; ++t) {
    const int row = tgt[t];
    if (row < 0) continue;
    for (int e = lane; e < dim; e += 32)
      atomicAdd(&w_out[(long long)row * dim + e], ow[t] * g[t] * h[e]);
  }
  for (int c = 0; c < n_ctx; ++c) {
    const int row = ctx[c];
    if (row < 0) continue;
    for (int e = lane; e < dim; e += 32) atomicAdd(&w_in[(long long)row * dim + e], gh[e]);
  }
  if (lane == 0) loss[b] = loss_sum;
}
