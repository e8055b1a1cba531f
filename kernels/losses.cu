// Fused losses from logits, numerically stable. Loaded by gputrain/kernels/losses.py; NumPy twins
// in gputrain/autograd/ops (losses). float32 data, int32 labels, C-contiguous arrays.
// All kernels are deterministic (no atomics). The backward kernels scale the upstream
// gradient: gy[i * gy_step] * scale, gy_step 0 for the one value of a mean- or sum-reduced
// loss (scale 1/n for a mean), so no expanded gradient array is built per step. The
// softmax kernels of a reduced loss take the last Linear's bias (logits + bias) and give its
// gradient (column sums), and add the batch's loss sum and correct count to a training
// loop's float64 tallies: the head's bias add, its gradient sum and the loop's tallies cost
// no launch of their own.

__device__ __forceinline__ float stable_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

// loss[i] = max(x, 0) - x * t + log1p(exp(-|x|))   (= -t log s(x) - (1 - t) log(1 - s(x)))
extern "C" __global__ void sigmoid_bce_forward(const float* __restrict__ x,
                                               const float* __restrict__ t,
                                               float* __restrict__ loss, int n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    float xi = x[i];
    loss[i] = fmaxf(xi, 0.0f) - xi * t[i] + log1pf(expf(-fabsf(xi)));
  }
}

// gx[i] = (sigmoid(x) - t) * gy[i * gy_step] * scale
extern "C" __global__ void sigmoid_bce_backward(const float* __restrict__ x,
                                                const float* __restrict__ t,
                                                const float* __restrict__ gy,
                                                float* __restrict__ gx, int n, int gy_step,
                                                float scale) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    gx[i] = (stable_sigmoid(x[i]) - t[i]) * (gy[i * gy_step] * scale);
  }
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Block-wide max or sum (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ float block_reduce(float v, bool is_max, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();  // scratch may still be read by the previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const float neutral = is_max ? -3.402823466e38f : 0.0f;
  v = lane < warps ? scratch[lane] : neutral;
  return is_max ? warp_max(v) : warp_sum(v);
}

// Block-wide smallest index (as a float: exact below 2**24 classes); every thread gets it.
__device__ __forceinline__ int block_min_index(int c, float* scratch) {
  return (int)-block_reduce(-(float)c, true, scratch);
}

// probs = softmax(x + b) of one row (b may be null: no bias) and the row's loss logsumexp -
// z[label], computed by the whole block (every thread returns the loss). With ``best``, the
// first index of the row's largest z goes there (argmax; NaNs are skipped, as by fmaxf). A
// label outside [0, classes) gives a NaN loss (a GPU kernel cannot raise).
__device__ float xent_row(const float* __restrict__ x, const float* __restrict__ b,
                          float* __restrict__ p, int label, int classes, float* scratch,
                          int* best) {
  float m = -3.402823466e38f;
  for (int c = threadIdx.x; c < classes; c += blockDim.x)
    m = fmaxf(m, b ? x[c] + b[c] : x[c]);
  m = block_reduce(m, true, scratch);
  float s = 0.0f;
  int first = classes;
  for (int c = threadIdx.x; c < classes; c += blockDim.x) {
    const float z = b ? x[c] + b[c] : x[c];
    if (z == m && c < first) first = c;
    float e = expf(z - m);
    p[c] = e;
    s += e;
  }
  s = block_reduce(s, false, scratch);
  if (best) *best = block_min_index(first, scratch);
  const float inv = 1.0f / s;
  for (int c = threadIdx.x; c < classes; c += blockDim.x) p[c] *= inv;
  const float zl = (label >= 0 && label < classes) ? (b ? x[label] + b[label] : x[label]) : 0.0f;
  return (label >= 0 && label < classes) ? logf(s) + m - zl : nanf("");
}

// One block per row: probs = softmax(logits[row]), loss[row] = logsumexp - logits[label].
extern "C" __global__ void softmax_xent_forward(const float* __restrict__ logits,
                                                const int* __restrict__ labels,
                                                float* __restrict__ loss,
                                                float* __restrict__ probs, int rows,
                                                int classes) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  if (row >= rows) return;  // uniform over the block: no thread reaches a barrier
  const long long at = (long long)row * classes;
  const float l = xent_row(logits + at, nullptr, probs + at, labels[row], classes, scratch,
                           nullptr);
  if (threadIdx.x == 0) loss[row] = l;
}

// The reduced loss of softmax(logits + bias) (bias: the last Linear's, (classes,)): one
// block walks the rows in order, total[0] = scale * sum of the rows' losses (scale 1/rows
// for the mean), deterministic; probs as above. tally[0] += the rows' loss sum (float64,
// added in row order), tally[1] += the rows whose argmax is their label: a training loop's
// running tallies, read when it reports. Launch with one block.
extern "C" __global__ void softmax_xent_forward_reduced(const float* __restrict__ logits,
                                                        const float* __restrict__ bias,
                                                        const int* __restrict__ labels,
                                                        float* __restrict__ total,
                                                        float* __restrict__ probs,
                                                        double* __restrict__ tally, int rows,
                                                        int classes, float scale) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  double loss_sum = 0.0;
  int hits = 0;
  for (int row = 0; row < rows; ++row) {
    const long long at = (long long)row * classes;
    int best;
    const float l = xent_row(logits + at, bias, probs + at, labels[row], classes, scratch,
                             &best);
    sum += l;
    loss_sum += (double)l;
    hits += best == labels[row];
  }
  if (threadIdx.x == 0) {
    total[0] = sum * scale;
    tally[0] += loss_sum;
    tally[1] += (double)hits;
  }
}

// gx[r, c] = (probs[r, c] - (c == labels[r])) * gy[r * gy_step] * scale (a row with a bad
// label becomes NaN) and gb[c] = sum over rows of gx[:, c] (the bias's gradient). Blocks of
// (32, 8): a column per threadIdx.x, rows threadIdx.y, threadIdx.y + 8, ...; the 8 partial
// sums of a column are added in a fixed order.
extern "C" __global__ void softmax_xent_backward(const float* __restrict__ probs,
                                                 const int* __restrict__ labels,
                                                 const float* __restrict__ gy,
                                                 float* __restrict__ gx, float* __restrict__ gb,
                                                 int rows, int classes, int gy_step,
                                                 float scale) {
  __shared__ float part[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (c < classes) {
    for (int r = threadIdx.y; r < rows; r += blockDim.y) {
      const long long i = (long long)r * classes + c;
      const int label = labels[r];
      const float hot = c == label ? 1.0f : 0.0f;
      const float g = (label >= 0 && label < classes)
                          ? (probs[i] - hot) * (gy[(long long)r * gy_step] * scale)
                          : nanf("");
      gx[i] = g;
      sum += g;
    }
  }
  part[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < classes) {
    float t = 0.0f;
    for (int k = 0; k < (int)blockDim.y; ++k) t += part[k][threadIdx.x];
    gb[c] = t;
  }
}
