/*
 * Tables of facts about MicroPython's .mpy ABI (sub-version 3): the names of
 * mp_fun_table's entries in order (py/nativeglue.h) and the static qstrs
 * every firmware has, in order (py/makeqstrdata.py). See natmod/mpy.h.
 */
#include <string.h>

#include "natmod/mpy.h"

const char *const nm_mpy_fun_table[NM_MPY_FUN_TABLE_SIZE] = {
    "const_none", "const_false", "const_true", "native_from_obj", "native_to_obj", "swap_globals",
    "load_name", "load_global", "load_build_class", "load_attr", "load_method", "load_super_method",
    "store_name", "store_global", "store_attr", "obj_subscr", "obj_is_true", "unary_op", "binary_op",
    "new_tuple", "new_list", "new_dict", "new_set", "set_store", "list_append", "dict_store",
    "make_function_from_proto_fun", "call_function_n_kw", "call_method_n_kw", "call_method_n_kw_var",
    "getiter", "iternext", "nlr_push", "nlr_pop", "raise", "import_name", "import_from", "import_all",
    "new_slice", "unpack_sequence", "unpack_ex", "delete_name", "delete_global", "new_closure",
    "arg_check_num_sig", "setup_code_state_native", "small_int_floor_divide", "small_int_modulo",
    "yield_from", "setjmp_", "memset_", "memmove_", "realloc_", "printf_", "vprintf_", "raise_msg",
    "obj_get_type", "obj_new_str", "obj_new_bytes", "obj_new_bytearray_by_ref", "obj_new_float_from_f",
    "obj_new_float_from_d", "obj_get_float_to_f", "obj_get_float_to_d", "load_method_maybe", "get_buffer",
    "get_stream_raise", "arg_parse_all", "arg_parse_all_kw_array", "binary_get_size",
    "binary_get_val_array", "binary_set_val_array", "plat_print", "type_type", "type_str", "type_list",
    "type_dict", "type_fun_builtin_0", "type_fun_builtin_1", "type_fun_builtin_2", "type_fun_builtin_3",
    "type_fun_builtin_var", "type_Exception", "stream_read_obj", "stream_readinto_obj",
    "stream_unbuffered_readline_obj", "stream_write_obj",
};

const char *const nm_mpy_static_qstrs[NM_MPY_N_STATIC_QSTRS] = {
    "", "__dir__", "\n", " ", "*", "/", "<module>", "_", "__call__", "__class__", "__delitem__",
    "__enter__", "__exit__", "__getattr__", "__getitem__", "__hash__", "__init__", "__int__",
    "__iter__", "__len__", "__main__", "__module__", "__name__", "__new__", "__next__",
    "__qualname__", "__repr__", "__setitem__", "__str__", "ArithmeticError", "AssertionError",
    "AttributeError", "BaseException", "EOFError", "Ellipsis", "Exception", "GeneratorExit",
    "ImportError", "IndentationError", "IndexError", "KeyError", "KeyboardInterrupt", "LookupError",
    "MemoryError", "NameError", "NoneType", "NotImplementedError", "OSError", "OverflowError",
    "RuntimeError", "StopIteration", "SyntaxError", "SystemExit", "TypeError", "ValueError",
    "ZeroDivisionError", "abs", "all", "any", "append", "args", "bool", "builtins", "bytearray",
    "bytecode", "bytes", "callable", "chr", "classmethod", "clear", "close", "const", "copy",
    "count", "dict", "dir", "divmod", "end", "endswith", "eval", "exec", "extend", "find", "format",
    "from_bytes", "get", "getattr", "globals", "hasattr", "hash", "id", "index", "insert", "int",
    "isalpha", "isdigit", "isinstance", "islower", "isspace", "issubclass", "isupper", "items",
    "iter", "join", "key", "keys", "len", "list", "little", "locals", "lower", "lstrip", "main",
    "map", "micropython", "next", "object", "open", "ord", "pop", "popitem", "pow", "print",
    "range", "read", "readinto", "readline", "remove", "replace", "repr", "reverse", "rfind",
    "rindex", "round", "rsplit", "rstrip", "self", "send", "sep", "set", "setattr", "setdefault",
    "sort", "sorted", "split", "start", "startswith", "staticmethod", "step", "stop", "str",
    "strip", "sum", "super", "throw", "to_bytes", "tuple", "type", "update", "upper", "utf-8",
    "value", "values", "write", "zip",
};

unsigned nm_mpy_static_qstr_find(const char *s, size_t len) {
    for (unsigned i = 0; i < NM_MPY_N_STATIC_QSTRS; i++) {
        const char *q = nm_mpy_static_qstrs[i];
        if (strlen(q) == len && !memcmp(q, s, len)) {
            return i + 1;
        }
    }
    return 0;
}

/* The static qstrs whose text is not a C identifier, spelled as
 * makeqstrdata.py escapes them (HTML entity names, else _0xNN_). */
static const struct {
    const char *text, *cname;
} escaped[] = {
    {"\n", "_0x0a_"}, {" ", "_space_"}, {"*", "_star_"}, {"/", "_slash_"},
    {"<module>", "_lt_module_gt_"}, {"utf-8", "utf_hyphen_8"},
};

const char *nm_mpy_static_qstr_cname(unsigned q, char *buf, size_t n) {
    if (q == 0 || q > NM_MPY_N_STATIC_QSTRS || n == 0) {
        return NULL;
    }
    const char *t = nm_mpy_static_qstrs[q - 1];
    for (size_t i = 0; i < sizeof escaped / sizeof escaped[0]; i++) {
        if (!strcmp(t, escaped[i].text)) {
            t = escaped[i].cname;
            break;
        }
    }
    size_t l = strlen(t);
    if (l >= n) {
        return NULL;
    }
    memcpy(buf, t, l + 1);
    return buf;
}
