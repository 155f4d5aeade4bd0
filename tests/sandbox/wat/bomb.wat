;; Asks for 64 MiB of linear memory at once; when that is refused, traps.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then unreachable))))
