"""Bundled Solidity detection tasks: small original contracts written for this project (Apache-2.0, like the
rest of codealign), each labelled vulnerable or not, with class and lines, split into train and held-out.

The contracts cover the Smart-LLaMA-DPO main classes (reentrancy, timestamp dependence, integer
overflow/underflow, delegatecall) plus access control and unchecked low-level calls, and safe look-alikes
that a detector must not flag. A ``// <vuln>`` marker at the end of a line labels that line; markers are
stripped before the contract reaches a model, so labels never leak into prompts.
"""

from __future__ import annotations

from codealign.errors import UserError
from codealign.types import Task

PROMPT = (
    "Audit this Solidity contract. Answer with JSON only: "
    '{"vulnerable": true|false, "category": "<class>", "lines": [<line numbers>], "explanation": "<why>"}. '
    "Classes: reentrancy, time_manipulation, arithmetic, delegatecall, access_control, "
    "unchecked_low_level_calls, bad_randomness, denial_of_service, front_running, short_addresses, other.\n\n"
)

MARK = "// <vuln>"

# (id, split, category or None, source with markers)
CONTRACTS: list[tuple[str, str, str | None, str]] = [
    ("reentrancy_bank", "train", "reentrancy", """\
pragma solidity ^0.8.0;

contract EtherBank {
    mapping(address => uint256) public balances;

    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        require(amount > 0, "nothing to withdraw");
        (bool ok, ) = msg.sender.call{value: amount}(""); // <vuln>
        require(ok, "send failed");
        balances[msg.sender] = 0; // <vuln>
    }
}
"""),
    ("reentrancy_vault", "heldout", "reentrancy", """\
pragma solidity ^0.8.0;

contract SharedVault {
    mapping(address => uint256) private credit;
    uint256 public total;

    function put() external payable {
        credit[msg.sender] += msg.value;
        total += msg.value;
    }

    function takeAll() external {
        uint256 owed = credit[msg.sender];
        if (owed == 0) return;
        (bool sent, ) = payable(msg.sender).call{value: owed}(""); // <vuln>
        require(sent);
        total -= owed;
        credit[msg.sender] = 0; // <vuln>
    }
}
"""),
    ("timestamp_lottery", "train", "time_manipulation", """\
pragma solidity ^0.8.0;

contract MinuteLottery {
    address public lastWinner;

    function play() external payable {
        require(msg.value == 1 ether, "stake is 1 ether");
        if (block.timestamp % 15 == 0) { // <vuln>
            lastWinner = msg.sender;
            payable(msg.sender).transfer(address(this).balance);
        }
    }
}
"""),
    ("timestamp_coinflip", "heldout", "time_manipulation", """\
pragma solidity ^0.8.0;

contract CoinFlip {
    event Flipped(address player, bool won);

    function flip() external payable {
        require(msg.value > 0);
        bool heads = (block.timestamp / 2) * 2 == block.timestamp; // <vuln>
        if (heads) {
            payable(msg.sender).transfer(msg.value * 2);
        }
        emit Flipped(msg.sender, heads);
    }

    receive() external payable {}
}
"""),
    ("arithmetic_token", "train", "arithmetic", """\
pragma solidity ^0.8.0;

contract PointsToken {
    mapping(address => uint256) public balanceOf;

    constructor() {
        balanceOf[msg.sender] = 1000;
    }

    function transfer(address to, uint256 amount) external {
        unchecked {
            balanceOf[msg.sender] -= amount; // <vuln>
            balanceOf[to] += amount;
        }
    }
}
"""),
    ("arithmetic_sale", "heldout", "arithmetic", """\
pragma solidity ^0.8.0;

contract TicketSale {
    uint256 public constant PRICE = 1e15;
    mapping(address => uint256) public tickets;

    function buy(uint256 count) external payable {
        uint256 cost;
        unchecked {
            cost = count * PRICE; // <vuln>
        }
        require(msg.value == cost, "wrong payment");
        tickets[msg.sender] += count;
    }
}
"""),
    ("delegatecall_proxy", "train", "delegatecall", """\
pragma solidity ^0.8.0;

contract ForwardingProxy {
    address public owner = msg.sender;

    function forward(address target, bytes calldata data) external {
        (bool ok, ) = target.delegatecall(data); // <vuln>
        require(ok, "forward failed");
    }
}
"""),
    ("delegatecall_library", "heldout", "delegatecall", """\
pragma solidity ^0.8.0;

contract PluginHost {
    address public owner;
    address public plugin;

    constructor(address firstPlugin) {
        owner = msg.sender;
        plugin = firstPlugin;
    }

    function setPlugin(address next) external {
        plugin = next;
    }

    function run(bytes calldata data) external {
        (bool ok, ) = plugin.delegatecall(data); // <vuln>
        require(ok);
    }
}
"""),
    ("access_txorigin", "train", "access_control", """\
pragma solidity ^0.8.0;

contract Wallet {
    address public owner;

    constructor() {
        owner = msg.sender;
    }

    function pay(address payable to, uint256 amount) external {
        require(tx.origin == owner, "not owner"); // <vuln>
        to.transfer(amount);
    }

    receive() external payable {}
}
"""),
    ("access_unprotected", "heldout", "access_control", """\
pragma solidity ^0.8.0;

contract Treasury {
    address public admin;

    constructor() {
        admin = msg.sender;
    }

    function changeAdmin(address next) external { // <vuln>
        admin = next; // <vuln>
    }

    function sweep() external {
        require(msg.sender == admin);
        payable(admin).transfer(address(this).balance);
    }

    receive() external payable {}
}
"""),
    ("unchecked_send", "train", "unchecked_low_level_calls", """\
pragma solidity ^0.8.0;

contract Payroll {
    address public boss = msg.sender;

    function payOut(address payable worker, uint256 amount) external {
        require(msg.sender == boss);
        worker.send(amount); // <vuln>
    }

    receive() external payable {}
}
"""),
    ("unchecked_call", "heldout", "unchecked_low_level_calls", """\
pragma solidity ^0.8.0;

contract Refunder {
    mapping(address => uint256) public refunds;

    function fund() external payable {
        refunds[msg.sender] += msg.value;
    }

    function refund() external {
        uint256 amount = refunds[msg.sender];
        refunds[msg.sender] = 0;
        payable(msg.sender).call{value: amount}(""); // <vuln>
    }
}
"""),
    ("safe_bank", "train", None, """\
pragma solidity ^0.8.0;

contract SafeBank {
    mapping(address => uint256) public balances;

    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        require(amount > 0, "nothing to withdraw");
        balances[msg.sender] = 0;
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok, "send failed");
    }
}
"""),
    ("safe_counter", "train", None, """\
pragma solidity ^0.8.0;

contract Counter {
    uint256 public count;
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function increment() external {
        count += 1;
    }

    function reset() external {
        require(msg.sender == owner, "only owner");
        count = 0;
    }
}
"""),
    ("safe_token", "heldout", None, """\
pragma solidity ^0.8.0;

contract CheckedToken {
    mapping(address => uint256) public balanceOf;

    constructor() {
        balanceOf[msg.sender] = 1000;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance too low");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }
}
"""),
    ("safe_ownable", "heldout", None, """\
pragma solidity ^0.8.0;

contract OwnedSwitch {
    address public owner;
    bool public on;

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "only owner");
        _;
    }

    function setOwner(address next) external onlyOwner {
        owner = next;
    }

    function toggle() external onlyOwner {
        on = !on;
    }
}
"""),
]


def strip_markers(source: str) -> tuple[str, list[int]]:
    """The source without ``// <vuln>`` markers, and the numbers of the lines that carried one."""
    lines, marked = [], []
    for number, line in enumerate(source.splitlines(), 1):
        if line.rstrip().endswith(MARK):
            marked.append(number)
            line = line.rstrip()[: -len(MARK)].rstrip()
        lines.append(line)
    return "\n".join(lines) + "\n", marked


def task_from_contract(name: str, split: str, category: str | None, marked_source: str) -> Task:
    source, lines = strip_markers(marked_source)
    label = {"vulnerable": category is not None, "category": category, "lines": lines}
    prompt = f"{PROMPT}```solidity\n{source}```\n"
    # language "text": the answer is JSON, so sampling must not run the Solidity code extractor on it.
    return Task(task_id=f"sol/{name}", domain="solidity", prompt=prompt,
                assets={"kind": "detect", "source": source, "label": label, "filename": f"{name}.sol"},
                metadata={"split": split, "category": category or "none", "language": "text"})


def bundled_tasks(split: str | None = None) -> list[Task]:
    """The bundled detection tasks of ``split`` (``train``, ``heldout``, or None for all)."""
    if split not in (None, "train", "heldout"):
        raise UserError(f"unknown split {split!r}; choose train or heldout")
    return [task_from_contract(*row) for row in CONTRACTS if split is None or row[1] == split]
