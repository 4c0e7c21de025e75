"""The IAM permissions each codebase needs in production, derived from its code.

Every adapter that calls a Google API declares what the call needs, next to the client it uses:
``clients.NEEDS`` (Firestore, Pub/Sub, Cloud Tasks), ``clients.ADMIN_SDK_NEEDS`` (Admin SDK
calls, e.g. deleting an Auth user), ``logs.NEEDS`` (the pseudonym key secret), ``tracing.NEEDS``
(Cloud Trace), ``push.NEEDS`` (sending through FCM), ``model.NEEDS`` (Gemini on Vertex AI),
``model_batch.NEEDS`` (Vertex AI batch prediction jobs), ``objects.NEEDS`` (batch files in Cloud
Storage, per bucket),
``stripe_events.NEEDS`` (Stripe's
webhook signing secret), ``app_store.NEEDS`` (Apple's root certificates); ``TRIGGER_NEEDS`` below covers what an
event trigger's identity needs to receive its events. A declaration names an IAM permission and the resource it applies to; when the
resource is chosen by the caller (the queue of ``clients.task_queue(function_name)``, the topic
of ``clients.topic_path(topic)``), it names the parameter that carries it.

``needs(codebase)`` reads ``functions/<codebase>/main.py`` and follows, statically, everything
its functions and module-level code call in the ``focus`` package (functions, nested functions,
the methods of every class they use), collecting the declared calls it reaches. Resource names
are resolved from the arguments at each call site, through any number of calls: literals,
module constants, ``Class.attribute``, ``a + b``, local variables assigned once, and
``param.attribute`` of a parameter annotated with a class (every subclass's value of it). A
resource name it cannot resolve is reported, never guessed.

``grants(needs)`` turns permissions into what Terraform grants: the narrowest predefined role
for each (``ROLE_FOR``), on the resource, or, where no predefined role is narrow enough (Auth
user writes), the permission itself in the codebase's custom role. ``tests/test_infra.py``
compares that with ``local.runtime_iam`` in ``infra/terraform`` both ways.

Known limit: a method called on an object whose class the analysis cannot see (the return
value of a call, a parameter) is not followed; ``unreached_google_calls`` lists every declared
call in the package that no codebase reaches, and the test pins that list, so a call hidden
behind such a method shows up there.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from focus.adapters.iam import BUCKET, PROJECT, QUEUE, SECRET, SELF, SERVICE, TOPIC, Need
from focus.domain import wires

# The resource kinds and Need are declared beside the adapters (focus.adapters.iam); re-exported
# because what Terraform grants is compared in these terms.
__all__ = [
    "BUCKET",
    "CUSTOM",
    "PROJECT",
    "QUEUE",
    "SECRET",
    "SELF",
    "SERVICE",
    "TOPIC",
    "Grant",
    "Need",
]

CUSTOM = "custom"  # granted as a permission of the codebase's custom role, not a predefined role

# The narrowest predefined role holding each permission we declare (IAM roles reference).
ROLE_FOR: dict[str, str] = {
    "datastore.entities.get": "roles/datastore.user",
    "datastore.entities.list": "roles/datastore.user",
    "datastore.entities.create": "roles/datastore.user",
    "datastore.entities.update": "roles/datastore.user",
    "datastore.entities.delete": "roles/datastore.user",
    "pubsub.topics.publish": "roles/pubsub.publisher",
    "cloudtasks.tasks.create": "roles/cloudtasks.enqueuer",
    "iam.serviceAccounts.actAs": "roles/iam.serviceAccountUser",
    "run.routes.invoke": "roles/run.invoker",
    "eventarc.events.receiveEvent": "roles/eventarc.eventReceiver",
    "secretmanager.versions.access": "roles/secretmanager.secretAccessor",
    "cloudtrace.traces.patch": "roles/cloudtrace.agent",
    "cloudmessaging.messages.create": "roles/firebasecloudmessaging.admin",
    "aiplatform.endpoints.predict": "roles/aiplatform.user",
    "aiplatform.batchPredictionJobs.create": "roles/aiplatform.user",
    "aiplatform.batchPredictionJobs.get": "roles/aiplatform.user",
    # Objects of one bucket: the narrowest role holding all four (objectViewer cannot write,
    # objectCreator cannot read or delete); objectAdmin would add the objects' IAM policies.
    "storage.objects.create": "roles/storage.objectUser",
    "storage.objects.get": "roles/storage.objectUser",
    "storage.objects.list": "roles/storage.objectUser",
    "storage.objects.delete": "roles/storage.objectUser",
    # Reading users has a narrow role (roles/firebaseauth.viewer), writing them only the broad
    # roles/firebaseauth.admin (which also edits the Auth configuration): all three go into the
    # codebase's custom role, so each codebase gets exactly the user operations it performs.
    "firebaseauth.users.get": CUSTOM,
    "firebaseauth.users.update": CUSTOM,
    "firebaseauth.users.delete": CUSTOM,
}


@dataclass(frozen=True, order=True)
class Grant:
    """What Terraform grants: ``role`` on the resource ``kind``/``name``; for the custom role,
    ``role`` is the permission itself and ``kind`` is ``custom``."""

    role: str
    kind: str
    name: str = ""


def grants(needs: set[Need]) -> set[Grant]:
    """The grants that satisfy ``needs`` and nothing more (a permission with no known role is an
    error: add it to ``ROLE_FOR``)."""
    found = set()
    for need in needs:
        role = ROLE_FOR.get(need.permission)
        if role is None:
            raise KeyError(f"{need.permission}: no role known (add it to ROLE_FOR)")
        found.add(
            Grant(need.permission, CUSTOM) if role == CUSTOM else Grant(role, need.kind, need.name)
        )
    return found


# What the identity of an event trigger needs to receive its events (the Eventarc trigger runs
# as the function's service account: focus.entrypoints.runtime sets it; Firebase CLI copies it into
# the trigger). Firestore events come through Eventarc (receiveEvent); Pub/Sub pushes directly.
# Callables and HTTPS functions are public; the CLI grants invoker on scheduled functions to
# their own account at every deploy, and task-queue functions are invoked by whoever enqueues
# (clients.NEEDS, task_queue).
_EVENTARC = Need("eventarc.events.receiveEvent", why="receive Firestore events through Eventarc")
_OWN_SERVICE = "<function>"  # stands for the decorated function's own name
_INVOKE_OWN = Need(
    "run.routes.invoke", SERVICE, _OWN_SERVICE, why="Eventarc pushes the event to the function"
)
TRIGGER_NEEDS: dict[str, tuple[Need, ...]] = {
    "firebase_functions.firestore_fn.on_document_written": (_EVENTARC, _INVOKE_OWN),
    "firebase_functions.firestore_fn.on_document_created": (_EVENTARC, _INVOKE_OWN),
    "firebase_functions.firestore_fn.on_document_updated": (_EVENTARC, _INVOKE_OWN),
    "firebase_functions.firestore_fn.on_document_deleted": (_EVENTARC, _INVOKE_OWN),
    "firebase_functions.pubsub_fn.on_message_published": (_INVOKE_OWN,),
}
# Decorators that make a function without any IAM of its own (see above).
PLAIN_TRIGGERS = {
    "firebase_functions.tasks_fn.on_task_dispatched",
    "firebase_functions.scheduler_fn.on_schedule",
    "firebase_functions.https_fn.on_call",
    "firebase_functions.https_fn.on_request",
    "focus.entrypoints.callables.mobile_callable",  # https_fn.on_call inside
    "focus.entrypoints.web.signed_in_web_endpoint",  # https_fn.on_request inside
    "focus.entrypoints.webhooks.store_webhook",  # https_fn.on_request inside
}


def declarations() -> dict[str, tuple[Need, ...]]:
    """Every declared Google API call, by the dotted name of the function called."""
    from focus.adapters import (
        app_store,
        clients,
        logs,
        model,
        model_batch,
        objects,
        push,
        stripe_events,
        tracing,
    )

    found: dict[str, tuple[Need, ...]] = {}
    for module, table in (
        ("focus.adapters.app_store", app_store.NEEDS),
        ("focus.adapters.clients", clients.NEEDS),
        ("focus.adapters.logs", logs.NEEDS),
        ("focus.adapters.model", model.NEEDS),
        ("focus.adapters.model_batch", model_batch.NEEDS),
        ("focus.adapters.objects", objects.NEEDS),
        ("focus.adapters.push", push.NEEDS),
        ("focus.adapters.stripe_events", stripe_events.NEEDS),
        ("focus.adapters.tracing", tracing.NEEDS),
    ):
        found.update({f"{module}.{name}": needs for name, needs in table.items()})
    found.update(clients.ADMIN_SDK_NEEDS)
    return found


# --- The static analysis ----------------------------------------------------------------------

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = REPOSITORY / "shared" / "focus"


class Unresolved(Exception):
    """A resource name the analysis cannot determine from the code."""


# A symbolic string: alternatives, each a tuple of literal parts and ("param", name) parts.
Part = str | tuple[str, str]
Value = frozenset[tuple[Part, ...]]


@dataclass
class _Module:
    name: str
    tree: ast.Module
    imports: dict[str, str]  # local name -> dotted target
    constants: dict[str, ast.expr]  # module-level NAME = <expr>
    functions: dict[str, ast.FunctionDef]  # qualified within module: "f", "Class.method"
    classes: dict[str, ast.ClassDef]


@dataclass(frozen=True)
class _Found:
    """A need reached from a function: ``resource`` is symbolic until resolved."""

    need: Need
    resource: Value
    where: str


def _module_file(name: str) -> Path | None:
    if not name.startswith("focus"):
        return None
    base = PACKAGE_ROOT.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parse(name: str, path: Path) -> _Module:
    tree = ast.parse(path.read_text(), filename=str(path))
    imports: dict[str, str] = {}
    constants: dict[str, ast.expr] = {}
    functions: dict[str, ast.FunctionDef] = {}
    classes: dict[str, ast.ClassDef] = {}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                constants[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            constants[node.target.id] = node.value
        elif isinstance(node, ast.FunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = node
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    functions[f"{node.name}.{item.name}"] = item
    return _Module(name, tree, imports, constants, functions, classes)


class _Analysis:
    def __init__(self) -> None:
        self.modules: dict[str, _Module] = {}
        self.declared = declarations()
        self.memo: dict[str, list[_Found]] = {}
        self.active: set[str] = set()
        self.visited: set[str] = set()  # package functions whose bodies were followed

    # -- modules and names

    def module(self, name: str, path: Path | None = None) -> _Module | None:
        if name not in self.modules:
            path = path or _module_file(name)
            if path is None:
                return None
            self.modules[name] = _parse(name, path)
        return self.modules[name]

    def dotted(self, module: _Module, node: ast.expr, klass: str | None) -> str | None:
        """The dotted name ``node`` refers to: ``focus.adapters.clients.firestore``,
        ``firebase_admin.auth.delete_user``, or ``<module>.<Class>.<method>``."""
        if isinstance(node, ast.Name):
            if node.id in module.imports:
                return module.imports[node.id]
            if node.id in module.functions or node.id in module.classes:
                return f"{module.name}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self" and klass:
                return f"{module.name}.{klass}.{node.attr}"
            base = self.dotted(module, node.value, klass)
            return f"{base}.{node.attr}" if base else None
        return None

    def split(self, dotted: str) -> tuple[_Module, str] | None:
        """(module, qualified name inside it) of a dotted name in the package, if any."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.module(".".join(parts[:cut]))
            if module is not None:
                rest = ".".join(parts[cut:])
                if rest in module.imports:  # re-exported: follow the import
                    return self.split(module.imports[rest])
                return module, rest
        return None

    # -- values

    def value(
        self, module: _Module, expr: ast.expr, scope: ast.FunctionDef | None, depth: int = 0
    ) -> Value:
        if depth > 20:
            raise Unresolved(ast.unparse(expr))
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return frozenset({(expr.value,)})
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left = self.value(module, expr.left, scope, depth + 1)
            right = self.value(module, expr.right, scope, depth + 1)
            return frozenset(a + b for a in left for b in right)
        if isinstance(expr, ast.Name):
            if scope is not None:
                if expr.id in _parameters(scope):
                    return frozenset({(("param", expr.id),)})
                assigned = _local_assignments(scope).get(expr.id)
                if assigned is not None:
                    return self.value(module, assigned, scope, depth + 1)
            if expr.id in module.constants:
                return self.value(module, module.constants[expr.id], None, depth + 1)
            if expr.id in module.imports:
                return self.named_value(module.imports[expr.id], expr, depth)
        if isinstance(expr, ast.Attribute):
            if (
                scope is not None
                and isinstance(expr.value, ast.Name)
                and expr.value.id in _parameters(scope)
            ):
                annotation = _parameters(scope)[expr.value.id]
                if annotation is not None:
                    klass = self.dotted(module, annotation, None)
                    if klass is not None:
                        return self.attribute_of_subclasses(klass, expr.attr, expr)
            base = self.dotted(module, expr.value, None)
            if base is not None:
                return self.named_value(f"{base}.{expr.attr}", expr, depth)
        raise Unresolved(ast.unparse(expr))

    def named_value(self, dotted: str, expr: ast.expr, depth: int) -> Value:
        located = self.split(dotted)
        if located is None:
            raise Unresolved(ast.unparse(expr))
        module, name = located
        if name in module.constants:
            return self.value(module, module.constants[name], None, depth + 1)
        if "." in name:  # Class.attribute
            klass, attribute = name.split(".", 1)
            if klass in module.classes:
                return self.attribute_of_subclasses(f"{module.name}.{klass}", attribute, expr)
        raise Unresolved(ast.unparse(expr))

    def attribute_of_subclasses(self, klass: str, attribute: str, expr: ast.expr) -> Value:
        """Every value ``attribute`` is given in the class body of ``klass`` or of a subclass in
        the same module (e.g. each domain event's ``topic``)."""
        located = self.split(klass)
        if located is None:
            raise Unresolved(ast.unparse(expr))
        module, name = located
        family, changed = {name}, True
        while changed:
            changed = False
            for other, node in module.classes.items():
                bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
                if other not in family and bases & family:
                    family.add(other)
                    changed = True
        found: set[tuple[Part, ...]] = set()
        for member in family:
            for item in module.classes[member].body:
                target = (
                    item.targets[0]
                    if isinstance(item, ast.Assign) and len(item.targets) == 1
                    else item.target
                    if isinstance(item, ast.AnnAssign) and item.value is not None
                    else None
                )
                if isinstance(target, ast.Name) and target.id == attribute:
                    assert isinstance(item, ast.Assign | ast.AnnAssign) and item.value
                    found |= self.value(module, item.value, None)
        if not found:
            raise Unresolved(ast.unparse(expr))
        return frozenset(found)

    # -- functions

    def needs_of(self, dotted: str) -> list[_Found]:
        """What calling the package function ``dotted`` needs, parameters left symbolic."""
        if dotted in self.memo:
            return self.memo[dotted]
        if dotted in self.active:
            return []  # recursion: its needs are being collected further up
        located = self.split(dotted)
        if located is None:
            return []
        module, name = located
        self.active.add(dotted)
        self.visited.add(dotted)
        try:
            if name in module.classes:  # a class used: every method may run
                found = [
                    f
                    for qualified in module.functions
                    if qualified.startswith(f"{name}.")
                    for f in self.needs_of(f"{module.name}.{qualified}")
                ]
            elif name in module.functions:
                klass = name.split(".")[0] if "." in name else None
                found = self.body_needs(module, module.functions[name], klass)
            else:
                found = []
        finally:
            self.active.discard(dotted)
        self.memo[dotted] = found
        return found

    def body_needs(
        self, module: _Module, function: ast.FunctionDef | ast.Module, klass: str | None
    ) -> list[_Found]:
        scope = function if isinstance(function, ast.FunctionDef) else None
        found: list[_Found] = []
        called: set[int] = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                target = self.dotted(module, node.func, klass)
                called.add(id(node.func))
                if target is not None:
                    found += self.call_needs(module, scope, node, target)
        for node in ast.walk(function):
            # A function referenced without being called here (a callback, a decorator's
            # argument) may be called with anything: its needs must not depend on arguments.
            if isinstance(node, ast.Name | ast.Attribute) and id(node) not in called:
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    continue
                target = self.dotted(module, node, klass)
                if target is not None and target.startswith("focus") and target in self.declared:
                    found += self.call_needs(module, scope, None, target)
                elif target is not None and target.startswith("focus"):
                    located = self.split(target)
                    if located and (
                        located[1] in located[0].functions or located[1] in located[0].classes
                    ):
                        found += self.call_needs(module, scope, None, target)
        return found

    def call_needs(
        self, module: _Module, scope: ast.FunctionDef | None, call: ast.Call | None, target: str
    ) -> list[_Found]:
        where = f"{module.name}:{call.lineno if call else '?'}"
        if target in self.declared:
            found = []
            for need in self.declared[target]:
                if need.when_keyword and not (
                    call is not None
                    and any(
                        k.arg == need.when_keyword
                        and isinstance(k.value, ast.Constant)
                        and k.value.value is True
                        for k in call.keywords
                    )
                ):
                    continue
                if need.argument:
                    signature = self.signature(target)
                    arg = _argument(call, signature, need.argument) if call else None
                    if arg is None:
                        raise Unresolved(f"{where}: {target}({need.argument}=?)")
                    resource = frozenset(
                        v + ((need.suffix,) if need.suffix else ())
                        for v in self.value(module, arg, scope)
                    )
                else:
                    resource = frozenset({(need.name,)})
                found.append(_Found(replace(need, argument="", suffix=""), resource, where))
            return found
        if not target.startswith("focus"):
            return []
        found = []
        signature = self.signature(target)
        for f in self.needs_of(target):
            resolved: set[tuple[Part, ...]] = set()
            for alternative in f.resource:
                options: list[tuple[Part, ...]] = [()]
                for part in alternative:
                    if isinstance(part, tuple):
                        arg = _argument(call, signature, part[1]) if call else None
                        if arg is None:
                            raise Unresolved(
                                f"{where}: {target}({part[1]}=?) names a {f.need.kind}"
                            )
                        values = self.value(module, arg, scope)
                        options = [o + v for o in options for v in values]
                    else:
                        options = [(*o, part) for o in options]
                resolved |= set(options)
            found.append(_Found(f.need, frozenset(resolved), f.where))
        return found

    def signature(self, dotted: str) -> list[str]:
        located = self.split(dotted)
        if located is None or located[1] not in located[0].functions:
            return []
        args = located[0].functions[located[1]].args
        return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _parameters(function: ast.FunctionDef) -> dict[str, ast.expr | None]:
    args = function.args
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs)
    return {a.arg: a.annotation for a in every}


def _local_assignments(function: ast.FunctionDef) -> dict[str, ast.expr]:
    """Names assigned exactly once in ``function`` (nested functions excluded)."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + 1
                    values[target.id] = node.value
    return {name: values[name] for name, count in counts.items() if count == 1}


def _argument(call: ast.Call | None, signature: list[str], parameter: str) -> ast.expr | None:
    if call is None:
        return None
    for keyword in call.keywords:
        if keyword.arg == parameter:
            return keyword.value
    if parameter in signature:
        index = signature.index(parameter)
        if signature and signature[0] == "self":
            index -= 1
        if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
            return call.args[index]
    return None


def _concrete(found: _Found, function: str) -> Iterator[Need]:
    for alternative in found.resource:
        if any(isinstance(part, tuple) for part in alternative):
            raise Unresolved(f"{found.where}: {found.need.permission} on an argument")
        name = "".join(part for part in alternative if isinstance(part, str))
        if found.need.lanes:  # the call picks one lane at run time: it needs them all
            for lane in wires.lanes(wires.Task(name)):
                yield replace(found.need, name=lane, lanes=False, why="")
            continue
        yield replace(found.need, name=function if name == _OWN_SERVICE else name, why="")


def codebases(repository: Path = REPOSITORY) -> list[str]:
    return sorted(p.parent.name for p in (repository / "functions").glob("*/main.py"))


@functools.cache
def _needs(codebase: str, repository: Path) -> tuple[frozenset[Need], frozenset[str]]:
    analysis = _Analysis()
    main = analysis.module(f"main@{codebase}", repository / "functions" / codebase / "main.py")
    assert main is not None
    needs: set[Need] = set()
    module_level = ast.Module(
        body=[n for n in main.tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)],
        type_ignores=[],
    )
    for found in analysis.body_needs(main, module_level, None):
        needs |= set(_concrete(found, ""))
    for name, function in main.functions.items():
        for found in analysis.body_needs(main, function, None):
            needs |= set(_concrete(found, name))
        for decorator in function.decorator_list:
            call = decorator.func if isinstance(decorator, ast.Call) else decorator
            target = analysis.dotted(main, call, None) or ""
            for need in TRIGGER_NEEDS.get(target, ()):
                needs.add(replace(need, name=name if need.name == _OWN_SERVICE else need.name))
    return frozenset(replace(n, why="") for n in needs), frozenset(analysis.visited)


def needs(codebase: str, repository: Path = REPOSITORY) -> set[Need]:
    """Every permission ``functions/<codebase>/main.py`` needs, on the resource it needs it on."""
    return set(_needs(codebase, repository)[0])


def triggers(repository: Path = REPOSITORY) -> dict[str, dict[str, str]]:
    """Each codebase's deployed functions and the decorator that makes each one a function."""
    found: dict[str, dict[str, str]] = {}
    for codebase in codebases(repository):
        analysis = _Analysis()
        main = analysis.module(f"main@{codebase}", repository / "functions" / codebase / "main.py")
        assert main is not None
        found[codebase] = {}
        for name, function in main.functions.items():
            for decorator in function.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                target = analysis.dotted(main, call, None) or ""
                if target in TRIGGER_NEEDS or target in PLAIN_TRIGGERS:
                    found[codebase][name] = target
    return found


def unreached_google_calls(repository: Path = REPOSITORY) -> set[str]:
    """Declared Google API calls made in package functions that no codebase reaches, as
    ``module.function -> call`` (scripts' own calls, or calls the analysis cannot follow)."""
    visited: set[str] = set()
    for codebase in codebases(repository):
        visited |= _needs(codebase, repository)[1]
    analysis = _Analysis()
    made: set[str] = set()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        module = analysis.module(name, path)
        assert module is not None
        for qualified, function in module.functions.items():
            if f"{name}.{qualified}" in visited:
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    klass = qualified.split(".")[0] if "." in qualified else None
                    target = analysis.dotted(module, node.func, klass)
                    if target in analysis.declared:
                        made.add(f"{name}.{qualified} -> {target}")
    return made
