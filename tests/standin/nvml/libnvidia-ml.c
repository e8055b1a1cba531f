/* NVML stand-in for the service's device-memory gauge (built by tests/conftest.py into
   a libnvidia-ml.so.1 that gpu-marked tests find through LD_LIBRARY_PATH).

   GPUTRAIN_STANDIN_DEVICES (default 2) fake GPUs, as NVML sees them: by physical index
   (PCI order; NVML ignores CUDA_VISIBLE_DEVICES) and by UUID (the stand-in's
   GPU-5ada1d00-0000-4000-8000-<12-digit index>). Device i reports (i + 1) GiB + 7 bytes
   in use: NOT what a trainer holds (its arrays live in its own process), only a value
   that tells the devices apart, so a test sees which GPU a gauge reads. */
#include <stdlib.h>
#include <string.h>

typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

static unsigned devices(void) {
  const char *env = getenv("GPUTRAIN_STANDIN_DEVICES");
  return env ? (unsigned)strtoul(env, NULL, 10) : 2u;
}

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }

int nvmlDeviceGetCount_v2(unsigned int *count) {
  *count = devices();
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device) {
  if (index >= devices()) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (void *)(unsigned long)(index + 100);
  return 0;
}

int nvmlDeviceGetHandleByUUID(const char *uuid, void **device) {
  const char *prefix = "GPU-5ada1d00-0000-4000-8000-";
  size_t n = strlen(prefix);
  if (strncmp(uuid, prefix, n) != 0 || strlen(uuid) != n + 12) return 6; /* NOT_FOUND */
  return nvmlDeviceGetHandleByIndex_v2((unsigned)strtoul(uuid + n, NULL, 10), device) ? 6 : 0;
}

int nvmlDeviceGetMemoryInfo(void *device, nvmlMemory_t *memory) {
  unsigned long long i = (unsigned long)device - 100;
  memory->total = 16ULL << 30;
  memory->used = (1ULL << 30) * (i + 1) + 7;
  memory->free = memory->total - memory->used;
  return 0;
}
