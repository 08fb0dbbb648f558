pub mod logroot;
pub mod query;
