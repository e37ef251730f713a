// `choices` are strings, or (value, label) pairs of strings.
#[derive(canter_macros::Form)]
struct NoteForm {
    #[form(choices = [1, 2])]
    level: String,
}

fn main() {}
