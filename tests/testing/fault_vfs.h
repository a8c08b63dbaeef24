// A SQLite VFS for tests that forwards to the default one and fails writes,
// syncs and truncates on command, standing in for a full disk or a failing
// device (leveldb's FaultInjectionTestEnv, SQLite's own crash and I/O-error
// tests). Register once, then open storage with
// SqliteStorage::Open(path, kFaultVfsName).
//
// Every xWrite, xSync and xTruncate on a file opened through this VFS is a
// "write point". Tests count them for a change (ResetWritePoints, run it,
// WritePoints), then run the change again with the Nth one failing
// (FailWritePoint), SQLite-crash-test style.
//
// Thread-safe: the state is atomics, read by whichever thread SQLite calls
// in on. Meant for one test at a time per process.
#ifndef AUTHD_TESTS_TESTING_FAULT_VFS_H_
#define AUTHD_TESTS_TESTING_FAULT_VFS_H_

#include <cstdint>

namespace authd::testing {

inline constexpr char kFaultVfsName[] = "authd-fault";

void RegisterFaultVfs();
// While set, xWrite fails with SQLITE_FULL and xTruncate with
// SQLITE_IOERR_TRUNCATE.
void FailWrites(bool on);
// While set, xSync fails with SQLITE_IOERR_FSYNC.
void FailSyncs(bool on);

// What a failing write point returns, as SQLite's unix VFS would.
enum class DiskFault {
  // ENOSPC: xWrite writes the first half of its buffer (a torn write) and
  // returns SQLITE_FULL; xSync and xTruncate return their SQLITE_IOERR_*
  // codes, as the unix VFS does for any errno there.
  kDiskFull,
  // EIO: every kind returns its SQLITE_IOERR_* code, nothing written.
  kIoError,
};

// Zeroes the write-point counter and disarms any fault.
void ResetWritePoints();
// Write points since the last ResetWritePoints or FailWritePoint.
int64_t WritePoints();
// Of those, the ones on the main database file (a WAL checkpoint, a
// migration) rather than the WAL, shm or a temp file.
int64_t DatabaseFileWritePoints();
// Counts write points from zero again and makes the `n`th (1-based) fail
// with `fault`; with `persist`, every later one fails too (a disk that stays
// full) until ClearFaults.
void FailWritePoint(int64_t n, DiskFault fault, bool persist);
// Disarms FailWritePoint (FailWrites/FailSyncs are separate).
void ClearFaults();
// Write points failed since the last FailWritePoint.
int64_t FaultsInjected();

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_FAULT_VFS_H_
