// A SQLite VFS for tests that forwards to the default one and fails writes or
// syncs on command, standing in for a full disk or a failing fsync (leveldb's
// FaultInjectionTestEnv, for SQLite). Register once, then open storage with
// SqliteStorage::Open(path, kFaultVfsName).
#ifndef AUTHD_TESTS_TESTING_FAULT_VFS_H_
#define AUTHD_TESTS_TESTING_FAULT_VFS_H_

namespace authd::testing {

inline constexpr char kFaultVfsName[] = "authd-fault";

void RegisterFaultVfs();
// While set, xWrite fails with SQLITE_IOERR_WRITE / SQLITE_FULL semantics.
void FailWrites(bool on);
// While set, xSync fails with SQLITE_IOERR_FSYNC.
void FailSyncs(bool on);

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_FAULT_VFS_H_
