// An unknown key in `#[field(...)]`.
use canter_macros::Model;

#[derive(Model)]
struct Product {
    id: i64,
    #[field(max_length = 40, nullable)]
    name: String,
}

fn main() {}
