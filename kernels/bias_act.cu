// Bias + ReLU fused: the forward and backward of relu(x + b) for x (rows, cols), b (cols,),
// one launch each where the composition takes two forward (add, max) and three backward
// (compare, multiply, column sum). Loaded by gputrain/kernels/bias_act.py; NumPy twins in
// gputrain/autograd/ops/fused.py. float32, C-contiguous; deterministic (fixed-order sums).

// y = relu(x + b); a NaN stays NaN (as numpy.maximum), so a diverging run still shows.
extern "C" __global__ void bias_relu_forward(const float* __restrict__ x,
                                             const float* __restrict__ b,
                                             float* __restrict__ y, int rows, int cols) {
  const long long n = (long long)rows * cols;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    const float v = x[i] + b[i % cols];
    y[i] = (v > 0.0f || v != v) ? v : 0.0f;
  }
}

// gx = gy where y > 0, else 0; gb[c] = sum over rows of gx[:, c]. Blocks of (32, 8): a
// column per threadIdx.x, rows threadIdx.y, threadIdx.y + 8, ...; the 8 partial sums of a
// column are added in a fixed order.
extern "C" __global__ void bias_relu_backward(const float* __restrict__ y,
                                              const float* __restrict__ gy,
                                              float* __restrict__ gx, float* __restrict__ gb,
                                              int rows, int cols) {
  __shared__ float part[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (c < cols) {
    for (int r = threadIdx.y; r < rows; r += blockDim.y) {
      const long long i = (long long)r * cols + c;
      const float g = y[i] > 0.0f ? gy[i] : 0.0f;
      gx[i] = g;
      sum += g;
    }
  }
  part[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float total = 0.0f;
    for (int k = 0; k < (int)blockDim.y; ++k) total += part[k][threadIdx.x];
    gb[c] = total;
  }
}
