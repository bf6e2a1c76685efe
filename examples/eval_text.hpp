#pragma once
// Evaluation text written for this project (not from the training corpus): prose and code in the style
// of Python's documentation, for measuring drafts from true prefixes when no held-out file is given.

namespace skippy::examples {

inline const char* eval_text =
    "Dictionaries are mappings from keys to values. A key can be any hashable object, such as a string,\n"
    "a number or a tuple of immutable objects, and each key appears at most once. The values may be of\n"
    "any type. You can create a dictionary with a pair of braces, and you can add an entry by assigning\n"
    "to a new key::\n\n"
    "   >>> prices = {'apple': 3, 'pear': 5}\n"
    "   >>> prices['plum'] = 2\n"
    "   >>> sorted(prices)\n"
    "   ['apple', 'pear', 'plum']\n\n"
    "The :meth:`get` method returns the value for a key if the key is in the dictionary, and a default\n"
    "value otherwise, so it never raises a :exc:`KeyError`. To remove an entry, use the :keyword:`del`\n"
    "statement or the :meth:`pop` method, which also returns the removed value.\n\n"
    "Functions\n"
    "=========\n\n"
    "A function is defined with the :keyword:`def` keyword, followed by the function name and a list of\n"
    "parameters in parentheses. The body of the function starts at the next line and must be indented.\n"
    "The first statement of the body can be a string literal, which becomes the documentation string of\n"
    "the function::\n\n"
    "   def average(values):\n"
    "       \"\"\"Return the arithmetic mean of a non-empty sequence of numbers.\"\"\"\n"
    "       total = 0\n"
    "       for value in values:\n"
    "           total += value\n"
    "       return total / len(values)\n\n"
    "When a function is called, its arguments are bound to the parameters in the order in which they are\n"
    "given, unless they are passed as keyword arguments. A parameter with a default value may be omitted\n"
    "from the call. If the function does not execute a :keyword:`return` statement, it returns ``None``.\n\n"
    "Exceptions\n"
    "==========\n\n"
    "Errors detected during execution are called exceptions. Most exceptions are not handled by programs,\n"
    "and they result in an error message that shows the type of the exception and a traceback. The\n"
    ":keyword:`try` statement lets a program handle selected exceptions: the code in the :keyword:`except`\n"
    "clause runs only if an exception of the named type occurs in the :keyword:`try` clause, and the\n"
    ":keyword:`finally` clause runs in every case, which makes it the right place to release resources\n"
    "such as open files or network connections.\n";

}  // namespace skippy::examples
