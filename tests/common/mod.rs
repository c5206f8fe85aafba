pub mod canal;
