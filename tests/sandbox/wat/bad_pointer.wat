;; Hands fd_write an iovec list far outside its memory, then one of 2^31
;; entries, and exits with the two errnos it got (EFAULT 21, EINVAL 28) as
;; status 21 * 100 + 28.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit
      (i32.add
        (i32.mul (call $fd_write (i32.const 1) (i32.const -8) (i32.const 1) (i32.const 16)) (i32.const 100))
        (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x80000000) (i32.const 16))))))
