//! The few Linux system calls the harness needs that std does not offer: AF_PACKET
//! sockets opened inside a network namespace, `poll`, the monotonic clock, signals
//! and `kill`. This is the only module of lvs-lab allowed `unsafe`; every block says
//! why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every namespace of the
/// machine, so agents and the harness agree on the run's time origin.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `CLOCK_REALTIME` in nanoseconds (the clock of the kernel's packet timestamps).
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as above, with CLOCK_REALTIME.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether a process with this pid exists.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Sends `SIGKILL` to `pid` (errors ignored: it may have exited already).
pub fn kill(pid: i32) {
    if pid > 0 {
        // SAFETY: plain kill(2) on a positive pid we were given by `ip netns pids`
        // or by spawning the process ourselves.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches SIGINT, SIGTERM and SIGHUP so the run can clean up; see [`interrupted`].
pub fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// Whether Ctrl-C (or SIGTERM/SIGHUP) arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Asks the kernel to kill this process when its parent (the harness) dies.
pub fn die_with_parent() {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and affects only this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
}

/// Waits until one of `fds` is readable or `timeout_ms` passes; returns which are.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    poll(fds, libc::POLLIN, timeout_ms)
}

/// Waits until `fd` is writable (a connect finished, well or badly) or `timeout_ms` passes.
pub fn poll_writable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    Ok(poll(&[fd], libc::POLLOUT, timeout_ms)?[0])
}

fn poll(fds: &[RawFd], events: libc::c_short, timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds.iter().map(|&fd| libc::pollfd { fd, events, revents: 0 }).collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfd structures for the call's duration.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter().map(|x| x.revents & (events | libc::POLLERR | libc::POLLHUP) != 0).collect())
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// Moves the calling thread (and the threads it starts afterwards) into the
/// network namespace `/run/netns/NAME`. Agents call it first thing.
pub fn enter_netns(name: &str) -> io::Result<()> {
    let ns = std::fs::File::open(format!("/run/netns/{name}"))?;
    // SAFETY: `ns` is an open namespace file; setns changes only this thread's namespace.
    cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

/// Runs `f` on a thread that has joined the network namespace `/run/netns/NAME`
/// (file descriptors it opens stay bound to that namespace).
pub fn in_netns<T: Send + 'static>(name: &str, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path)?;
        // SAFETY: `ns` is an open namespace file; setns only changes this thread's
        // network namespace, and the thread ends when `f` returns.
        cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// A frame read from a packet socket.
#[derive(Debug, Clone, Copy)]
pub struct Rx {
    pub len: usize,
    /// The frame was sent by this interface (`PACKET_OUTGOING`).
    pub outgoing: bool,
    /// Kernel receive time, `CLOCK_REALTIME` ns (0 if none was given).
    pub ts_ns: u64,
}

/// An AF_PACKET raw socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

impl PacketSocket {
    /// Opens a socket on `ifname` in the namespace `ns`. `ignore_outgoing`: do not
    /// see frames this interface sends (the director's own transmissions).
    pub fn open(ns: &str, ifname: &str, ignore_outgoing: bool) -> io::Result<PacketSocket> {
        let ifname = ifname.to_string();
        in_netns(ns, move || Self::open_here(&ifname, ignore_outgoing))
    }

    /// Opens a socket on `ifname` in the current thread's namespace.
    pub fn open_here(ifname: &str, ignore_outgoing: bool) -> io::Result<PacketSocket> {
        let cname = CString::new(ifname).map_err(|_| io::Error::other("interface name with NUL"))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL_BE),
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = PacketSocket { fd };
        let one: libc::c_int = 1;
        s.setopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, one)?;
        s.setopt(libc::SOL_SOCKET, libc::SO_RCVBUF, 8 << 20)?;
        s.setopt(libc::SOL_SOCKET, libc::SO_SNDBUF, 8 << 20)?;
        if ignore_outgoing {
            s.setopt(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, one)?;
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL_BE;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and the length matches it.
        cvt(unsafe {
            libc::bind(
                s.fd.as_raw_fd(),
                (&raw const sll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        // Frames of other interfaces may have queued before the bind.
        let mut buf = [0u8; 2048];
        while s.recv(&mut buf)?.is_some() {}
        Ok(s)
    }

    fn setopt(&self, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
        // SAFETY: `v` is a c_int and the length passed is its size.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&raw const v).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads one frame into `buf` (truncated to its size); `None` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Rx>> {
        // SAFETY: zeroed sockaddr_ll / msghdr are valid initial values.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut control = [0u64; 16];
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut sll).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: every pointer in `msg` refers to live buffers of the stated sizes.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let mut ts_ns = 0;
        // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, within
        // `msg_controllen`; SCM_TIMESTAMPNS carries a timespec.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    ts_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        Ok(Some(Rx { len: (n as usize).min(buf.len()), outgoing: sll.sll_pkttype == libc::PACKET_OUTGOING, ts_ns }))
    }

    /// Sends one frame out of the interface. A full queue drops it, as a NIC would.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid buffer of `frame.len()` bytes.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            // ENOBUFS/EAGAIN: the queue is full; ENETDOWN/ENXIO: the cable is pulled.
            return match e.raw_os_error() {
                Some(libc::ENOBUFS | libc::EAGAIN | libc::ENETDOWN | libc::ENXIO) => Ok(()),
                _ => Err(e),
            };
        }
        Ok(())
    }
}

const PACKET_VERSION: libc::c_int = 10;
const PACKET_RX_RING: libc::c_int = 5;
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    block_size: libc::c_uint,
    block_nr: libc::c_uint,
    frame_size: libc::c_uint,
    frame_nr: libc::c_uint,
    retire_blk_tov: libc::c_uint,
    sizeof_priv: libc::c_uint,
    feature_req_word: libc::c_uint,
}

/// An AF_PACKET socket with a TPACKET_V3 receive ring: the kernel fills blocks of
/// frames in memory shared with us, so reading costs no system call per frame.
#[derive(Debug)]
pub struct RxRing {
    sock: PacketSocket,
    map: *mut u8,
    block_size: usize,
    blocks: usize,
    cur: usize,
}

// SAFETY: the mapping belongs to this value alone; moving it to another thread
// moves the only pointer to it.
unsafe impl Send for RxRing {}

impl RxRing {
    /// Opens a ring on `ifname` in namespace `ns`, ignoring frames the interface sends.
    /// A block is handed over when full or after `retire_ms`.
    pub fn open(ns: &str, ifname: &str, retire_ms: u32) -> io::Result<RxRing> {
        let ifname = ifname.to_string();
        in_netns(ns, move || Self::open_here(&ifname, retire_ms))
    }

    fn open_here(ifname: &str, retire_ms: u32) -> io::Result<RxRing> {
        let cname = CString::new(ifname).map_err(|_| io::Error::other("interface name with NUL"))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let raw = cvt(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, i32::from(ETH_P_ALL_BE))
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let sock = PacketSocket { fd: unsafe { OwnedFd::from_raw_fd(raw) } };
        sock.setopt(libc::SOL_PACKET, PACKET_VERSION, TPACKET_V3)?;
        let (block_size, blocks) = (1usize << 18, 32usize);
        let req = TpacketReq3 {
            block_size: block_size as u32,
            block_nr: blocks as u32,
            frame_size: 2048,
            frame_nr: (block_size * blocks / 2048) as u32,
            retire_blk_tov: retire_ms,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        // SAFETY: `req` is a tpacket_req3 and the length passed is its size.
        cvt(unsafe {
            libc::setsockopt(
                sock.raw(),
                libc::SOL_PACKET,
                PACKET_RX_RING,
                (&raw const req).cast::<libc::c_void>(),
                std::mem::size_of::<TpacketReq3>() as libc::socklen_t,
            )
        })?;
        // SAFETY: mapping the ring the kernel just allocated for this socket, with
        // the size it was given; the result is checked against MAP_FAILED.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                block_size * blocks,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                sock.raw(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = RxRing { sock, map: map.cast(), block_size, blocks, cur: 0 };
        ring.sock.setopt(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)?;
        // SAFETY: zeroed sockaddr_ll is valid; the fields set make it a bind address.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL_BE;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and the length matches it.
        cvt(unsafe {
            libc::bind(
                ring.sock.raw(),
                (&raw const sll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(ring)
    }

    pub fn raw(&self) -> RawFd {
        self.sock.raw()
    }

    /// Calls `f` on every frame of the blocks the kernel has handed over, returns
    /// how many, and gives the blocks back.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        for _ in 0..self.blocks {
            // SAFETY: `cur < blocks`, so the block lies inside the mapping. The
            // block descriptor (`struct tpacket_block_desc`) holds, at byte 8,
            // block_status, 12 num_pkts, 16 offset_to_first_pkt; each packet header
            // (`struct tpacket3_hdr`) holds at 0 tp_next_offset, 12 tp_snaplen and
            // 24 tp_mac. The kernel owns the block until block_status has
            // TP_STATUS_USER, which we read with acquire ordering; frames lie
            // inside the block; we hand it back by storing TP_STATUS_KERNEL after
            // we are done with it.
            unsafe {
                let block = self.map.add(self.cur * self.block_size);
                let status = block.add(8).cast::<u32>();
                if std::ptr::read_volatile(status) & TP_STATUS_USER == 0 {
                    break;
                }
                std::sync::atomic::fence(Ordering::Acquire);
                let count = std::ptr::read_volatile(block.add(12).cast::<u32>());
                let mut p = block.add(std::ptr::read_volatile(block.add(16).cast::<u32>()) as usize);
                for _ in 0..count {
                    let snaplen = std::ptr::read_volatile(p.add(12).cast::<u32>()) as usize;
                    let mac = std::ptr::read_volatile(p.add(24).cast::<u16>()) as usize;
                    f(std::slice::from_raw_parts(p.add(mac), snaplen));
                    n += 1;
                    p = p.add(std::ptr::read_volatile(p.cast::<u32>()) as usize);
                }
                std::sync::atomic::fence(Ordering::Release);
                std::ptr::write_volatile(status, TP_STATUS_KERNEL);
            }
            self.cur = (self.cur + 1) % self.blocks;
        }
        n
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: `map` is the mapping made in `open_here`, of this size, unmapped once.
        unsafe { libc::munmap(self.map.cast(), self.block_size * self.blocks) };
    }
}
