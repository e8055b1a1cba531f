// Sparse row updates of an embedding table (V, D): `values[i]` is the gradient of row
// `rows[i]`. Loaded by gputrain/kernels/sparse_rows.py; NumPy twins in gputrain/optim/sparse.py.
// float32 tables and values, int32 row ids, C-contiguous. A row id outside [0, V) is a
// caller bug: the kernels do not check it (AddressSanitizer does, in the emulated tests).

// table[rows[i]] -= lr * values[i], duplicates summed.
// NONDETERMINISTIC: duplicate rows are summed with atomicAdd in no fixed order, so the
// last bits of a row hit several times in one batch can differ from run to run.
extern "C" __global__ void sgd_rows(float* __restrict__ table, const int* __restrict__ rows,
                                    const float* __restrict__ values, float lr, int n,
                                    int dim) {
  const long long total = (long long)n * dim;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long k = i / dim;
    const long long j = i - k * dim;
    atomicAdd(&table[(long long)rows[k] * dim + j], -lr * values[i]);
  }
}

// out[slot[i]] += values[i]: coalesces duplicate rows before a non-linear update.
// NONDETERMINISTIC (atomicAdd order), like sgd_rows.
extern "C" __global__ void scatter_add_rows(float* __restrict__ out, const int* __restrict__ slot,
                                            const float* __restrict__ values, int n, int dim) {
  const long long total = (long long)n * dim;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long k = i / dim;
    atomicAdd(&out[(long long)slot[k] * dim + (i - k * dim)], values[i]);
  }
}

// Adagrad on unique rows (the caller coalesces duplicates with scatter_add_rows first):
// accum[r] += g * g;  table[r] -= lr * g / (sqrt(accum[r]) + eps).  Deterministic.
extern "C" __global__ void adagrad_unique_rows(float* __restrict__ table,
                                               float* __restrict__ accum,
                                               const int* __restrict__ rows,
                                               const float* __restrict__ grads, float lr,
                                               float eps, int n, int dim) {
  const long long total = (long long)n * dim;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long k = i / dim;
    const long long at = (long long)rows[k] * dim + (i - k * dim);
    const float g = grads[i];
    const float a = accum[at] + g * g;
    accum[at] = a;
    table[at] -= lr * g / (sqrtf(a) + eps);
  }
}
