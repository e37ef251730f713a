// A view needs a handler for at least one HTTP method.
struct Hello;

#[canter_macros::view(crate = nothing_real)]
impl Hello {
    async fn fetch(&self) {}
}

fn main() {}
