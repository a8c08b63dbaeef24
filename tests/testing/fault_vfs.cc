#include "testing/fault_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace authd::testing {
namespace {

std::atomic<bool> g_fail_writes{false};
std::atomic<bool> g_fail_syncs{false};
std::atomic<int64_t> g_points{0};
std::atomic<int64_t> g_db_points{0};
std::atomic<int64_t> g_fail_at{0};  // 0: disarmed
std::atomic<bool> g_persist{false};
std::atomic<DiskFault> g_fault{DiskFault::kDiskFull};
std::atomic<int64_t> g_injected{0};
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool main_db;
};

// Counts one write point on `f`; true if it is to fail.
bool NextPointFails(sqlite3_file* f) {
  int64_t n = ++g_points;
  if (reinterpret_cast<FaultFile*>(f)->main_db) ++g_db_points;
  int64_t at = g_fail_at.load();
  if (at == 0 || n < at || (n > at && !g_persist.load())) return false;
  ++g_injected;
  return true;
}

sqlite3_file* Real(sqlite3_file* f) {
  return reinterpret_cast<FaultFile*>(f)->real;
}

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xRead(Real(f), b, n, o);
}
int Write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  if (g_fail_writes) return SQLITE_FULL;
  if (NextPointFails(f)) {
    if (g_fault.load() == DiskFault::kIoError) return SQLITE_IOERR_WRITE;
    // ENOSPC part way through: what fitted is on disk.
    if (n > 1) Real(f)->pMethods->xWrite(Real(f), b, n / 2, o);
    return SQLITE_FULL;
  }
  return Real(f)->pMethods->xWrite(Real(f), b, n, o);
}
int Truncate(sqlite3_file* f, sqlite3_int64 n) {
  if (g_fail_writes || NextPointFails(f)) return SQLITE_IOERR_TRUNCATE;
  return Real(f)->pMethods->xTruncate(Real(f), n);
}
int Sync(sqlite3_file* f, int flags) {
  if (g_fail_syncs || NextPointFails(f)) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* n) {
  return Real(f)->pMethods->xFileSize(Real(f), n);
}
int Lock(sqlite3_file* f, int l) {
  return Real(f)->pMethods->xLock(Real(f), l);
}
int Unlock(sqlite3_file* f, int l) {
  return Real(f)->pMethods->xUnlock(Real(f), l);
}
int CheckReservedLock(sqlite3_file* f, int* r) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), r);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) {
  return Real(f)->pMethods->xSectorSize(Real(f));
}
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, p);
}
int ShmLock(sqlite3_file* f, int off, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), off, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) {
  return Real(f)->pMethods->xShmUnmap(Real(f), del);
}
int Fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
  return Real(f)->pMethods->xFetch(Real(f), o, n, p);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), o, p);
}

const sqlite3_io_methods kMethods = {3,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReservedLock,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     Fetch,
                                     Unfetch};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags,
         int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(f);
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  ff->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  ff->base.pMethods = ff->real->pMethods ? &kMethods : nullptr;
  return rc;
}

}  // namespace

void RegisterFaultVfs() {
  if (g_real != nullptr) return;
  g_real = sqlite3_vfs_find(nullptr);
  g_vfs = *g_real;
  g_vfs.zName = kFaultVfsName;
  g_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
  g_vfs.xOpen = Open;
  sqlite3_vfs_register(&g_vfs, 0);
}

void FailWrites(bool on) { g_fail_writes = on; }
void FailSyncs(bool on) { g_fail_syncs = on; }

void ResetWritePoints() {
  g_fail_at = 0;
  g_points = 0;
  g_db_points = 0;
  g_injected = 0;
}
int64_t WritePoints() { return g_points.load(); }
int64_t DatabaseFileWritePoints() { return g_db_points.load(); }

void FailWritePoint(int64_t n, DiskFault fault, bool persist) {
  g_fail_at = 0;
  g_points = 0;
  g_db_points = 0;
  g_injected = 0;
  g_fault = fault;
  g_persist = persist;
  g_fail_at = n;
}
void ClearFaults() { g_fail_at = 0; }
int64_t FaultsInjected() { return g_injected.load(); }

}  // namespace authd::testing
