// A phone shows each list row as a card whose cells are labelled from their data-label: the admin
// writes the column's own words there ("is active" for a plain field), so each label gets a capital
// first letter, and no more (the theme's CSS title-cased every word: "When Stock Is Short").
(function () {
  function sentenceCase(root) {
    root.querySelectorAll("#result_list [data-label]").forEach(function (cell) {
      var label = cell.getAttribute("data-label");
      if (label) cell.setAttribute("data-label", label.charAt(0).toUpperCase() + label.slice(1));
    });
  }
  document.addEventListener("DOMContentLoaded", function () { sentenceCase(document); });
})();
