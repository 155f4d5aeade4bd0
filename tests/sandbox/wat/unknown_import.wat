;; Imports a function the host does not provide.
(module
  (import "env" "open_socket" (func $open_socket (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $open_socket))))
