//! A call's arguments bound to a task's parameters as Python binds a call: positional ones
//! first, then the keyword ones by name. A call that does not fit fails as Python's does, with
//! a `TypeError` worded as Python words it (what a Celery user reads in the stored FAILURE);
//! an argument of the wrong type fails with a `Serialization` error naming the parameter.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::TaskError;

/// One parameter of a task (what `#[task]` writes for each of the function's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameter {
    pub name: &'static str,
    /// An `Option`: a call may leave it out (as a Python parameter with a default of `None`).
    pub optional: bool,
}

/// The value of each parameter, in order (`null` for an optional one left out), from a call's
/// `args` (a JSON array) and `kwargs` (a JSON object). `function` is the function's name, as
/// Python's messages start with it.
pub fn bind_arguments(
    function: &str,
    parameters: &[Parameter],
    args: Value,
    kwargs: Value,
) -> Result<Vec<Value>, TaskError> {
    let Value::Array(positional) = args else {
        return Err(TaskError::Serialization(format!(
            "the arguments of {function}() are not a list: {args}"
        )));
    };
    let named = match kwargs {
        Value::Object(named) => named,
        Value::Null => Default::default(),
        other => {
            return Err(TaskError::Failed {
                kind: "InvalidTaskError".into(),
                message: format!(
                    "the keyword arguments of {function}() are not a mapping: {other}"
                ),
            })
        }
    };
    let given = positional.len();
    let mut bound: Vec<Option<Value>> = vec![None; parameters.len()];
    for (slot, value) in bound.iter_mut().zip(positional) {
        *slot = Some(value);
    }
    // CPython's order of checks: names first, then too many positions, then missing ones.
    for (name, value) in named {
        let Some(index) = parameters.iter().position(|p| p.name == name) else {
            return Err(type_error(format!(
                "{function}() got an unexpected keyword argument '{name}'"
            )));
        };
        if bound[index].is_some() {
            return Err(type_error(format!(
                "{function}() got multiple values for argument '{name}'"
            )));
        }
        bound[index] = Some(value);
    }
    if given > parameters.len() {
        return Err(type_error(too_many_positions(function, parameters, given)));
    }
    let missing: Vec<&str> = parameters
        .iter()
        .zip(&bound)
        .filter(|(p, value)| !p.optional && value.is_none())
        .map(|(p, _)| p.name)
        .collect();
    if !missing.is_empty() {
        let count = missing.len();
        return Err(type_error(format!(
            "{function}() missing {count} required positional argument{}: {}",
            plural(count),
            quoted_list(&missing)
        )));
    }
    Ok(bound
        .into_iter()
        .map(|value| value.unwrap_or(Value::Null))
        .collect())
}

/// One bound argument decoded into its parameter's type (`task` names the task in the error).
pub fn decode_argument<T: DeserializeOwned>(
    task: &str,
    parameter: &str,
    value: Value,
) -> Result<T, TaskError> {
    serde_json::from_value(value)
        .map_err(|e| TaskError::Serialization(format!("argument '{parameter}' of {task}: {e}")))
}

fn type_error(message: String) -> TaskError {
    TaskError::Failed {
        kind: "TypeError".into(),
        message,
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'` (Python's list of missing names).
fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// `add() takes 2 positional arguments but 3 were given`, or `takes from 1 to 2 …` when some
/// may be left out.
fn too_many_positions(function: &str, parameters: &[Parameter], given: usize) -> String {
    let most = parameters.len();
    let least = parameters.iter().filter(|p| !p.optional).count();
    let takes = if least == most {
        format!("{most} positional argument{}", plural(most))
    } else {
        format!("from {least} to {most} positional arguments")
    };
    let verb = if given == 1 { "was" } else { "were" };
    format!("{function}() takes {takes} but {given} {verb} given")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: Parameter = Parameter {
        name: "a",
        optional: false,
    };
    const B: Parameter = Parameter {
        name: "b",
        optional: false,
    };
    const C: Parameter = Parameter {
        name: "c",
        optional: true,
    };

    fn bind(parameters: &[Parameter], args: Value, kwargs: Value) -> Result<Vec<Value>, String> {
        bind_arguments("add", parameters, args, kwargs).map_err(|e| match e {
            TaskError::Failed { kind, message } => format!("{kind}: {message}"),
            other => other.to_string(),
        })
    }

    #[test]
    fn positions_then_names() {
        assert_eq!(
            bind(&[A, B], json!([1, 2]), json!({})),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(
            bind(&[A, B], json!([]), json!({"b": 2, "a": 1})),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(
            bind(&[A, B], json!([1]), json!({"b": 2})),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(
            bind(&[A, C], json!([1]), json!({})),
            Ok(vec![json!(1), Value::Null])
        );
        assert_eq!(
            bind(&[A, C], json!([1]), Value::Null),
            Ok(vec![json!(1), Value::Null])
        );
    }

    // The expected texts are CPython 3's, for `def add(a, b)` / `def add(a, b, c=None)`.
    #[test]
    fn calls_that_do_not_fit_fail_as_python_words_it() {
        assert_eq!(
            bind(&[A, B], json!([1]), json!({})),
            Err("TypeError: add() missing 1 required positional argument: 'b'".into())
        );
        assert_eq!(
            bind(&[A, B], json!([]), json!({})),
            Err("TypeError: add() missing 2 required positional arguments: 'a' and 'b'".into())
        );
        let d = Parameter {
            name: "d",
            optional: false,
        };
        assert_eq!(
            bind(&[A, B, d], json!([]), json!({})),
            Err(
                "TypeError: add() missing 3 required positional arguments: 'a', 'b', and 'd'"
                    .into()
            )
        );
        assert_eq!(
            bind(&[A, B], json!([1, 2]), json!({"z": 0})),
            Err("TypeError: add() got an unexpected keyword argument 'z'".into())
        );
        assert_eq!(
            bind(&[A, B], json!([1, 2]), json!({"a": 0})),
            Err("TypeError: add() got multiple values for argument 'a'".into())
        );
        assert_eq!(
            bind(&[A, B], json!([1, 2, 3]), json!({})),
            Err("TypeError: add() takes 2 positional arguments but 3 were given".into())
        );
        assert_eq!(
            bind(&[A], json!([1, 2]), json!({})),
            Err("TypeError: add() takes 1 positional argument but 2 were given".into())
        );
        assert_eq!(
            bind(&[], json!([1]), json!({})),
            Err("TypeError: add() takes 0 positional arguments but 1 was given".into())
        );
        assert_eq!(
            bind(&[A, B, C], json!([1, 2, 3, 4]), json!({})),
            Err("TypeError: add() takes from 2 to 3 positional arguments but 4 were given".into())
        );
    }

    #[test]
    fn kwargs_that_are_not_a_mapping_are_an_invalid_task() {
        assert_eq!(
            bind(&[A], json!([1]), json!([2])),
            Err("InvalidTaskError: the keyword arguments of add() are not a mapping: [2]".into())
        );
    }

    #[test]
    fn a_wrong_type_names_the_parameter() {
        let error = decode_argument::<i64>("demo.add", "b", json!("three")).unwrap_err();
        let TaskError::Serialization(message) = error else {
            panic!("{error:?}")
        };
        assert!(
            message.starts_with("argument 'b' of demo.add: "),
            "{message}"
        );
    }
}
