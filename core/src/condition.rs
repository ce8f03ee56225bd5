//! STUB — being written (conditions).
