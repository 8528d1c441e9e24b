//! Request and response bodies used by more than one function (each function keeps its own
//! bodies in its `models` module).

pub mod orders;
pub mod products;
