// An unknown key in `#[model(...)]`.
use canter_macros::Model;

#[derive(Model)]
#[model(app = "shop", schema = "public")]
struct Product {
    id: i64,
}

fn main() {}
