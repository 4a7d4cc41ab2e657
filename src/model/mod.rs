//! The scenario model: data types, distributions, limits, validation and file I/O.
//! Nothing here runs a simulation.

pub mod budget;
pub mod dist;
pub mod format;
pub mod io;
pub mod limits;
pub mod overrides;
pub mod params;
pub mod price;
pub mod scenario;
pub mod validate;

pub use dist::Dist;
pub use format::Comments;
pub use io::{
    LoadError, load_file, load_str, parse_str, save_file, save_file_keeping, to_ron_string,
};
pub use params::{Meta, ParamList, ParamVisitor, Params, RefKind};
pub use scenario::*;
pub use validate::{
    Budgets, Problem, Problems, ValidScenario, tier_endpoints, validate, validate_within,
    walk as walk_steps,
};
