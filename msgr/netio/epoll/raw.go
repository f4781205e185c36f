//go:build linux

package epoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawMax is the most bytes a read or a sendmsg may ask to move for it to be made as a raw
// system call (below). A larger copy (a 4 MiB section) can take long enough that the
// goroutine should be seen as in a system call, whose processor the runtime can hand to
// another goroutine, and which does not hold up a stop of the world.
const rawMax = 64 << 10

// The loop's own system calls never block: every descriptor is nonblocking and its polls
// have a zero timeout. Made through unix.Syscall, each one enters and leaves the runtime's
// system-call state (entersyscall and exitsyscall: two status changes of the goroutine with
// atomic compare-and-swaps, the processor's, and a caller-frame walk), about 200 instructions
// per call under callgrind, six calls per ping-pong round trip; made raw, the goroutine keeps
// its processor as it would during any short computation. Go's own netpoller makes its
// nonblocking epoll_wait the same way.

// epollPoll is epoll_pwait(epfd, evs, 0, NULL) made raw: it returns at once.
func epollPoll(epfd int, evs []unix.EpollEvent) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(unsafe.SliceData(evs))), uintptr(len(evs)), 0, 0, 0)
	return int(r), errno
}

// read is read(2) on a nonblocking descriptor, made raw when p is at most rawMax bytes.
// len(p) must not be 0.
func read(fd int, p []byte) (int, unix.Errno) {
	var r uintptr
	var errno unix.Errno
	if len(p) <= rawMax {
		r, _, errno = unix.RawSyscall(unix.SYS_READ, uintptr(fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	} else {
		r, _, errno = unix.Syscall(unix.SYS_READ, uintptr(fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	}
	return int(r), errno
}

// sendmsg is sendmsg(fd, msg, MSG_NOSIGNAL) on a nonblocking socket, made raw when the
// message carries at most rawMax bytes.
func sendmsg(fd int, msg *unix.Msghdr, bytes int) (int, unix.Errno) {
	var r uintptr
	var errno unix.Errno
	if bytes <= rawMax {
		r, _, errno = unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd),
			uintptr(unsafe.Pointer(msg)), unix.MSG_NOSIGNAL)
	} else {
		r, _, errno = unix.Syscall(unix.SYS_SENDMSG, uintptr(fd),
			uintptr(unsafe.Pointer(msg)), unix.MSG_NOSIGNAL)
	}
	return int(r), errno
}

// eventfdWrite adds the 8-byte counter in b to the nonblocking eventfd fd, made raw.
func eventfdWrite(fd int, b *[8]byte) unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(b)), 8)
	return errno
}

// eventfdRead reads and resets the counter of the nonblocking eventfd fd into b, made raw.
func eventfdRead(fd int, b *[8]byte) unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(b)), 8)
	return errno
}
