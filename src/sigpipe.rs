//! Printing commands end quietly when their reader goes away (`plantkeeper check … | head -1`).
//!
//! Rust ignores SIGPIPE, so `println!` to a closed pipe panics. Commands that only print
//! restore the default disposition and simply end, like other Unix tools. The server commands
//! keep SIGPIPE ignored: a node closing its socket must give an error, never kill the master.

/// Restores the default SIGPIPE action for this process (before any output is written).
pub fn exit_quietly_on_closed_output() {
    // SAFETY: `signal` with SIG_DFL installs no handler code; it is called before any other
    // thread exists (the printing commands start no runtime).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
