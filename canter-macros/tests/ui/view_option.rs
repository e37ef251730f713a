// `#[view]` takes only `crate = path`.
struct Hello;

#[canter_macros::view(krate = canter_core)]
impl Hello {
    async fn get(&self) {}
}

fn main() {}
