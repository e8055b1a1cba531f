// Multi-tensor Adam / AdamW: one launch updates up to 8 parameters (p, grad, m, v each).
// Loaded by gputrain/kernels/adam.py (adam_multi); NumPy twin gputrain/optim/adam.py
// (adam_multi). float32, C-contiguous; deterministic (each element is its own update).
//
// Per element, as the NumPy twin and Adam._update_dense do:
//   AdamW (decoupled): p *= decay (= 1 - lr*wd);   Adam: g += wd * p  (L2)
//   m += (1-b1) (g - m);   v += (1-b2) (g*g - v)
//   p -= step_size * m / (sqrt(v) + eps_hat)
// with step_size = lr sqrt(1-b2^t) / (1-b1^t) and eps_hat = eps sqrt(1-b2^t) (the bias
// corrections folded in). Tensors are laid end to end: element i of the launch belongs to
// the tensor k with n0+...+n(k-1) <= i < n0+...+nk; unused slots have n = 0.

#define ADAM_SLOTS 8

extern "C" __global__ void adam_multi(
    float* __restrict__ p0, float* __restrict__ p1, float* __restrict__ p2,
    float* __restrict__ p3, float* __restrict__ p4, float* __restrict__ p5,
    float* __restrict__ p6, float* __restrict__ p7, const float* __restrict__ g0,
    const float* __restrict__ g1, const float* __restrict__ g2, const float* __restrict__ g3,
    const float* __restrict__ g4, const float* __restrict__ g5, const float* __restrict__ g6,
    const float* __restrict__ g7, float* __restrict__ m0, float* __restrict__ m1,
    float* __restrict__ m2, float* __restrict__ m3, float* __restrict__ m4,
    float* __restrict__ m5, float* __restrict__ m6, float* __restrict__ m7,
    float* __restrict__ v0, float* __restrict__ v1, float* __restrict__ v2,
    float* __restrict__ v3, float* __restrict__ v4, float* __restrict__ v5,
    float* __restrict__ v6, float* __restrict__ v7, int n0, int n1, int n2, int n3, int n4,
    int n5, int n6, int n7, float one_minus_b1, float one_minus_b2, float step_size,
    float eps_hat, float weight_decay, float decay, int decoupled) {
  float* const ps[ADAM_SLOTS] = {p0, p1, p2, p3, p4, p5, p6, p7};
  const float* const gs[ADAM_SLOTS] = {g0, g1, g2, g3, g4, g5, g6, g7};
  float* const ms[ADAM_SLOTS] = {m0, m1, m2, m3, m4, m5, m6, m7};
  float* const vs[ADAM_SLOTS] = {v0, v1, v2, v3, v4, v5, v6, v7};
  const int ns[ADAM_SLOTS] = {n0, n1, n2, n3, n4, n5, n6, n7};
  long long ends[ADAM_SLOTS];
  long long total = 0;
  for (int k = 0; k < ADAM_SLOTS; ++k) ends[k] = total += ns[k];
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    int k = 0;
    while (i >= ends[k]) ++k;
    const long long j = i - (ends[k] - ns[k]);
    float p = ps[k][j];
    float g = gs[k][j];
    if (decoupled) {
      p *= decay;
    } else {
      g += weight_decay * p;
    }
    const float m = ms[k][j] + one_minus_b1 * (g - ms[k][j]);
    const float v = vs[k][j] + one_minus_b2 * (g * g - vs[k][j]);
    ms[k][j] = m;
    vs[k][j] = v;
    ps[k][j] = p - step_size * (m / (sqrtf(v) + eps_hat));
  }
}
